//! Settings of the trusted service for app users: sign-in, sessions, guests.

use clap::{Args, ValueEnum};

/// Registration of built-in accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Registration {
    /// Only backends (with an access key) create accounts.
    Closed,
    /// Anyone may create an account.
    Open,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// The trusted service for app users: sign-in, sessions, guests.
#[derive(Args, Clone)]
pub struct AppUserConfig {
    /// The app's OpenID Connect issuer; its bearer tokens sign app users in. Unset: off.
    #[arg(long, env = "CALLSIGN_OIDC_ISSUER", global = true)]
    pub oidc_issuer: Option<String>,
    /// The issuer's JWKS; default: discovered from `<issuer>/.well-known/openid-configuration`.
    #[arg(long, env = "CALLSIGN_OIDC_JWKS_URL", global = true)]
    pub oidc_jwks_url: Option<String>,
    /// The `aud` the app's bearer tokens must carry (required with an issuer).
    #[arg(long, env = "CALLSIGN_OIDC_AUDIENCE", global = true)]
    pub oidc_audience: Option<String>,
    /// Least time between two fetches of the JWKS when a token names an unknown key.
    #[arg(
        long,
        env = "CALLSIGN_OIDC_JWKS_COOLDOWN_SECS",
        default_value_t = 60,
        global = true
    )]
    pub oidc_jwks_cooldown_secs: u64,
    /// The longest a bearer token of either provider (app users' or backends') may live, from
    /// its `iat` to its `exp` (lacking `iat`, from now): a longer-lived one is refused.
    #[arg(
        long,
        env = "CALLSIGN_OIDC_MAX_TOKEN_LIFETIME_SECS",
        default_value_t = 86_400,
        global = true
    )]
    pub oidc_max_token_lifetime_secs: u64,

    /// Who may create built-in accounts.
    #[arg(
        long,
        env = "CALLSIGN_ACCOUNTS_REGISTRATION",
        value_enum,
        default_value = "closed",
        global = true
    )]
    pub accounts_registration: Registration,
    /// Argon2id hashes computed at once (each takes 19 MiB and a core for tens of ms).
    #[arg(
        long,
        env = "CALLSIGN_PASSWORD_HASH_CONCURRENCY",
        default_value_t = 4,
        global = true
    )]
    pub password_hash_concurrency: usize,
    /// Password checks that may wait for a hashing slot; past them, sign-ins and account
    /// creations are refused at once with 503 `ServerBusy` and `Retry-After`.
    #[arg(
        long,
        env = "CALLSIGN_PASSWORD_HASH_QUEUE",
        default_value_t = 32,
        global = true
    )]
    pub password_hash_queue: usize,

    /// Scopes app users may ask for, comma-separated; also what they get by default.
    #[arg(
        long,
        env = "CALLSIGN_APP_SCOPES",
        default_value = "chat,voip",
        global = true
    )]
    pub app_scopes: String,
    /// A refresh token unused this many days expires.
    #[arg(
        long,
        env = "CALLSIGN_REFRESH_IDLE_DAYS",
        default_value_t = 14,
        global = true
    )]
    pub refresh_idle_days: u32,
    /// A session older than this many days ends, however active.
    #[arg(
        long,
        env = "CALLSIGN_REFRESH_ABSOLUTE_DAYS",
        default_value_t = 90,
        global = true
    )]
    pub refresh_absolute_days: u32,

    /// The fewest characters a new password may have (8 to 64). Signing in with a password set
    /// under a lower minimum still works.
    #[arg(
        long,
        env = "CALLSIGN_PASSWORD_MIN_LENGTH",
        default_value_t = 8,
        global = true
    )]
    pub password_min_length: usize,

    /// How long a password-reset token a backend issues is good for, in minutes (5 to 1440).
    #[arg(
        long,
        env = "CALLSIGN_PASSWORD_RESET_MINUTES",
        default_value_t = 60,
        value_parser = clap::value_parser!(u32).range(5..=1440),
        global = true
    )]
    pub password_reset_minutes: u32,

    /// Guests: anyone may get a fresh identity with a short-lived token.
    #[arg(
        long,
        env = "CALLSIGN_GUESTS",
        value_enum,
        default_value = "off",
        global = true
    )]
    pub guests: Switch,
    /// Scopes of guest tokens, comma-separated.
    #[arg(
        long,
        env = "CALLSIGN_GUEST_SCOPES",
        default_value = "chat.join.limited,voip.join",
        global = true
    )]
    pub guest_scopes: String,
    /// Lifetime of guest tokens, in minutes (60 to 1440).
    #[arg(
        long,
        env = "CALLSIGN_GUEST_TOKEN_MINUTES",
        default_value_t = 60,
        global = true
    )]
    pub guest_token_minutes: i64,
    /// Guest tokens per client address per minute.
    #[arg(
        long,
        env = "CALLSIGN_GUESTS_PER_MINUTE",
        default_value_t = 10,
        global = true
    )]
    pub guests_per_minute: u32,
}
