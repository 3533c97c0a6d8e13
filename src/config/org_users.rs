//! Settings for exchanging an organisation user's token from the organisation's OpenID Connect
//! provider (Microsoft Entra ID, Keycloak, Okta) for a communication token: the ACS "Teams user"
//! exchange (`POST /teamsUser/:exchangeAccessToken`).

use clap::Args;

/// The audience ACS's exchange expects: what Entra ID puts in a token requested for
/// `https://auth.msft.communication.azure.com/Teams.ManageCalls`.
pub const ACS_TEAMS_AUDIENCE: &str = "https://auth.msft.communication.azure.com";

#[derive(Args, Clone)]
pub struct OrgUserConfig {
    /// The organisation's OpenID Connect issuer whose users' tokens may be exchanged for a
    /// communication token of the user (`8:orgid:<objectId>`). Unset: the exchange is off and
    /// answers 400 `TeamsUserExchangeNotSupported`.
    #[arg(long, env = "CALLSIGN_ORG_OIDC_ISSUER", global = true)]
    pub org_oidc_issuer: Option<String>,
    /// Its JWKS; default: discovered from `<issuer>/.well-known/openid-configuration`.
    #[arg(long, env = "CALLSIGN_ORG_OIDC_JWKS_URL", global = true)]
    pub org_oidc_jwks_url: Option<String>,
    /// The `aud` the presented tokens must carry.
    #[arg(
        long,
        env = "CALLSIGN_ORG_AUDIENCE",
        default_value = ACS_TEAMS_AUDIENCE,
        global = true
    )]
    pub org_audience: String,
    /// Client applications (`appid` or `azp`) whose users' tokens may be exchanged,
    /// comma-separated; required with `CALLSIGN_ORG_OIDC_ISSUER`.
    #[arg(
        long,
        env = "CALLSIGN_ORG_CLIENT_IDS",
        value_delimiter = ',',
        global = true
    )]
    pub org_client_ids: Vec<String>,
    /// Delegated scopes (`scp` or `scope`) a presented token must carry, every one,
    /// comma-separated; each matches by name or written under the audience.
    #[arg(
        long,
        env = "CALLSIGN_ORG_SCOPES",
        value_delimiter = ',',
        default_value = "Teams.ManageCalls,Teams.ManageChats",
        global = true
    )]
    pub org_scopes: Vec<String>,
    /// The claim holding the user's directory object id (a GUID), which `userId` must equal.
    #[arg(
        long,
        env = "CALLSIGN_ORG_USER_CLAIM",
        default_value = "oid",
        global = true
    )]
    pub org_user_claim: String,
}
