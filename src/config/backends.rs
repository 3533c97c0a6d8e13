//! Settings for backends that call with a bearer token from the organisation's identity provider
//! instead of an access key.

use clap::Args;

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
