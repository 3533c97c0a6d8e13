//! Settings for backends that call with a bearer token from the organisation's identity provider
//! instead of an access key.

use clap::Args;

use super::Switch;

/// What the Azure SDKs ask a token for, with `/.default`.
pub const AZURE_AUDIENCE: &str = "https://communication.azure.com";

#[derive(Args, Clone)]
pub struct BackendConfig {
    /// The organisation's OpenID Connect issuer whose client-credentials tokens backends may
    /// send instead of signing with an access key. Unset: off.
    #[arg(long, env = "CALLSIGN_BACKEND_OIDC_ISSUER", global = true)]
    pub backend_oidc_issuer: Option<String>,
    /// Its JWKS; default: discovered from `<issuer>/.well-known/openid-configuration`.
    #[arg(long, env = "CALLSIGN_BACKEND_OIDC_JWKS_URL", global = true)]
    pub backend_oidc_jwks_url: Option<String>,
    /// The `aud` backends' tokens must carry (what the Azure SDKs ask for by default).
    #[arg(
        long,
        env = "CALLSIGN_BACKEND_OIDC_AUDIENCE",
        default_value = AZURE_AUDIENCE,
        global = true
    )]
    pub backend_oidc_audience: String,
    /// Name a token's client by its `sub` when it has no `azp`, `appid` or `client_id` (for a
    /// provider that names clients only there). Off: such a token is refused, since in a
    /// user's token `sub` names the user.
    #[arg(
        long,
        env = "CALLSIGN_BACKEND_CLIENT_ID_FROM_SUB",
        value_enum,
        default_value = "off",
        global = true
    )]
    pub backend_client_id_from_sub: Switch,
    /// Admit only app (client-credentials) tokens, known by a positive mark: `idtyp: app`, `sub`
    /// equal to the client or to `oid`, `gty: client-credentials`, or a Keycloak service
    /// account; a user's token (Entra ID's `scp`, `idtyp` other than `app`, or no such mark) is
    /// refused.
    #[arg(
        long,
        env = "CALLSIGN_BACKEND_APP_ONLY",
        value_enum,
        default_value = "on",
        global = true
    )]
    pub backend_app_only: Switch,
    /// Client ids (`azp`, `appid` or `client_id`) admitted, comma-separated.
    #[arg(
        long,
        env = "CALLSIGN_BACKEND_CLIENTS",
        value_delimiter = ',',
        global = true
    )]
    pub backend_clients: Vec<String>,
    /// Roles (`roles`, `realm_access.roles`) that admit a client, comma-separated.
    #[arg(
        long,
        env = "CALLSIGN_BACKEND_ROLES",
        value_delimiter = ',',
        global = true
    )]
    pub backend_roles: Vec<String>,
    /// Roles that also allow key administration (`/keys`), comma-separated.
    #[arg(
        long,
        env = "CALLSIGN_ADMIN_ROLES",
        value_delimiter = ',',
        global = true
    )]
    pub admin_roles: Vec<String>,
}
