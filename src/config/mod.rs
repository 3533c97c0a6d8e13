//! Command line and environment. Every flag has an environment variable; `.env.example`
//! documents them. Secrets are never printed: this type has no `Debug`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::telemetry::LogFormat;

mod app_users;
mod backends;
mod limits;
mod org_users;
mod secrets;
mod signals;
mod tls;

pub use app_users::{AppUserConfig, Registration, Switch};
pub use backends::BackendConfig;
pub use limits::RateLimitConfig;
pub use org_users::{ACS_TEAMS_AUDIENCE, OrgUserConfig};
pub use secrets::SecretFiles;
pub use signals::SignalConfig;
pub use tls::{TlsConfig, TlsMode};

#[derive(Parser)]
#[command(
    name = "callsign",
    version,
    about = "ACS-compatible identity and access-token service"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Probe the running service's `/healthz` on this host (the ops listener if configured,
    /// else the main one); exits 0 when it answers 200. For container health checks.
    Health,
    /// Show or regenerate the access keys. The keys themselves (and connection strings) are
    /// printed only with `--show-secrets`: a scheduled job's log must not hold them.
    Keys {
        /// Print the access keys and connection strings, not only the key ids.
        #[arg(long)]
        show_secrets: bool,
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// Find app users and act on them: disable, enable, end sessions, set a password, issue a
    /// password-reset token.
    Users {
        #[command(subcommand)]
        action: UsersCommand,
    },
    /// Check the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigCommand,
    },
    /// Print reference documentation generated from this build.
    Docs {
        #[command(subcommand)]
        page: DocsCommand,
    },
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Check every setting (addresses, URLs, networks, files, keys) and the database (reachable,
    /// migrations known) without creating, migrating or binding anything; print what starting
    /// would do. Exits 1 when a setting is refused.
    Check,
}

#[derive(Subcommand)]
pub enum DocsCommand {
    /// Every setting, as Markdown (`docs/reference/configuration.md`).
    Config,
    /// Every command, as Markdown (`docs/reference/cli.md`).
    Cli,
}

#[derive(Subcommand)]
pub enum UsersCommand {
    /// List app users, in id order.
    List {
        /// Only built-in accounts whose username starts with this.
        #[arg(long)]
        username_prefix: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        max: u32,
    },
    /// Disable a user: no sign-in, no tokens; its sessions end and its tokens are revoked.
    Disable { user: String },
    /// Enable a disabled user again.
    Enable { user: String },
    /// End every session of a user (it stays enabled).
    EndSessions { user: String },
    /// List a user's live sessions: id, started, last refreshed, address, user agent.
    Sessions { user: String },
    /// End one session of a user.
    EndSession { user: String, session: String },
    /// Set a built-in account's password, read from the first line of standard input (never
    /// an argument: it would show in the process list and the shell history).
    SetPassword { user: String },
    /// Issue a one-time password-reset token for a built-in account.
    ResetToken { user: String },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Print both access keys and their connection strings.
    List,
    /// Replace an access key: every token its slot signed stops working on every instance
    /// within a second.
    Regenerate {
        #[arg(value_enum)]
        slot: SlotArg,
    },
    /// Give a slot (default: both) a new signing key; the old one keeps verifying until every
    /// token it signed has expired, so no token dies.
    RotateSigning {
        #[arg(value_enum)]
        slot: Option<SlotArg>,
    },
    /// Give security event tokens a new signing key (of `CALLSIGN_SSF_ALGORITHM`); the old one
    /// stays in the JWKS for as long as a rotated token-signing key verifies.
    RotateEventSigning,
    /// Master-key rotation: re-seal every stored key (and every event stream's authorization
    /// header) under `CALLSIGN_MASTER_KEY`, opening them with it or
    /// `CALLSIGN_PREVIOUS_MASTER_KEY`. Afterwards the previous key is not needed.
    Reseal,
}

/// Where access keys are administered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyAdmin {
    /// The command line only.
    Cli,
    /// The command line and the `/keys` routes.
    Api,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SlotArg {
    Primary,
    Secondary,
}

/// Where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Metrics {
    /// Only on the ops listener; `on`, the old name, means this too.
    #[value(alias = "on")]
    Ops,
    /// On the main listener as well: anyone who reaches the service reads them.
    Public,
    Off,
}

#[derive(Args, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (the bound address is logged).
    #[arg(
        long,
        env = "CALLSIGN_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,

    /// A separate plain-HTTP listener for `/metrics`, `/healthz`, `/readyz`, `/readyz/database`
    /// and `/version` (e.g. `0.0.0.0:9090`, reachable only inside the cluster). `/version` and (unless
    /// `CALLSIGN_METRICS=public`) `/metrics` are served only there.
    #[arg(long, env = "CALLSIGN_OPS_LISTEN", global = true)]
    pub ops_listen: Option<SocketAddr>,

    /// `postgres://…` or `sqlite://…`; default: `sqlite://<data dir>/callsign.db`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Directory for the SQLite database, the generated master key and TLS certificate.
    #[arg(
        long,
        env = "CALLSIGN_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Public URL of this service, put in connection strings and the tokens' `iss` claim.
    /// Default: `https://<listen address>/`. Set it when running several instances.
    #[arg(long, env = "CALLSIGN_ENDPOINT", global = true)]
    pub endpoint: Option<String>,

    /// `on`: an access-key signature counts only when the `Host` it signed is the endpoint's
    /// host (`CALLSIGN_ENDPOINT`, or the default endpoint), so a signed request captured on its
    /// way to another service is refused here. Off by default: a proxy that rewrites `Host`
    /// breaks every signature with it on.
    #[arg(
        long,
        env = "CALLSIGN_STRICT_HOST",
        value_enum,
        default_value = "off",
        global = true
    )]
    pub strict_host: Switch,

    /// The resource id in identity ids (`8:acs:<resource id>_<uuid>`); fixed at first start,
    /// generated if not given.
    #[arg(long, env = "CALLSIGN_RESOURCE_ID", global = true)]
    pub resource_id: Option<String>,

    /// How access tokens are signed: `HS256` (a secret only Callsign holds: services check
    /// tokens by introspection), or `ES256` / `RS256` (services verify tokens themselves with
    /// the public keys at `/.well-known/jwks.json`). A change takes effect at the next start:
    /// each slot gets a key of the new algorithm, and the old one verifies until its tokens
    /// expire. Give the `callsign keys` commands the same setting.
    #[arg(
        long,
        env = "CALLSIGN_TOKEN_ALGORITHM",
        value_enum,
        default_value = "HS256",
        global = true
    )]
    pub token_algorithm: crate::keys::TokenAlgorithm,

    /// Who administers the access keys: `cli` (only `callsign keys …`, which needs the
    /// database and the master key) or `api` (also `GET /keys` and `POST /keys/:regenerate`,
    /// for the primary access key or a bearer token with an admin role).
    #[arg(
        long,
        env = "CALLSIGN_KEY_ADMIN",
        value_enum,
        default_value_t = KeyAdmin::Cli,
        global = true
    )]
    pub key_admin: KeyAdmin,

    /// Base64 primary access key (at least 256 bits) to store on first start instead of
    /// generating one; give both keys or neither.
    #[arg(
        long,
        env = "CALLSIGN_PRIMARY_KEY",
        hide_env_values = true,
        global = true
    )]
    pub primary_key: Option<String>,
    /// Base64 secondary access key to store on first start (see `--primary-key`).
    #[arg(
        long,
        env = "CALLSIGN_SECONDARY_KEY",
        hide_env_values = true,
        global = true
    )]
    pub secondary_key: Option<String>,

    /// Base64 256-bit key that encrypts the stored keys. Required with PostgreSQL; with SQLite
    /// it is generated into `<data dir>/master.key` on first start if not given.
    #[arg(
        long,
        env = "CALLSIGN_MASTER_KEY",
        hide_env_values = true,
        global = true
    )]
    pub master_key: Option<String>,

    /// During a master-key rotation: the master key being replaced. Stored keys sealed with it
    /// still open; `callsign keys reseal` re-seals them under `CALLSIGN_MASTER_KEY`.
    #[arg(
        long,
        env = "CALLSIGN_PREVIOUS_MASTER_KEY",
        hide_env_values = true,
        global = true
    )]
    pub previous_master_key: Option<String>,

    #[command(flatten)]
    pub tls: TlsConfig,

    /// Database connections per instance.
    #[arg(
        long,
        env = "CALLSIGN_DB_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub db_max_connections: u32,
    /// How long a request waits for a database connection before answering 503.
    #[arg(
        long,
        env = "CALLSIGN_DB_ACQUIRE_TIMEOUT_MS",
        default_value_t = 2000,
        global = true
    )]
    pub db_acquire_timeout_ms: u64,
    /// How long start-up waits for the database to become reachable.
    #[arg(
        long,
        env = "CALLSIGN_STARTUP_TIMEOUT_SECS",
        default_value_t = 60,
        global = true
    )]
    pub startup_timeout_secs: u64,
    /// Full resynchronisation of revocation state and keys, in milliseconds: the bound on
    /// staleness should a change notification be lost.
    #[arg(
        long,
        env = "CALLSIGN_RESYNC_INTERVAL_MS",
        default_value_t = 5000,
        global = true
    )]
    pub resync_interval_ms: u64,

    /// How long `/readyz` stays ready while the database is unreachable: tokens keep validating
    /// and issuing for known identities from memory, so an outage need not empty the load
    /// balancer. No revocation can commit while the database is down, but an instance cut off
    /// alone misses those committed elsewhere until it reconnects: this bounds that window.
    /// `/readyz/database` reports the database itself. 0: not ready as soon as it is unreachable.
    #[arg(
        long,
        env = "CALLSIGN_READY_WITHOUT_DATABASE_SECS",
        default_value_t = 300,
        global = true
    )]
    pub ready_without_database_secs: u64,

    /// Log format.
    #[arg(
        long,
        env = "CALLSIGN_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    /// Prometheus metrics at `/metrics` (no access key needed): `ops`, only on the ops listener
    /// (`CALLSIGN_OPS_LISTEN`; without one, not served); `public`, on the main listener too;
    /// `off`.
    #[arg(
        long,
        env = "CALLSIGN_METRICS",
        value_enum,
        default_value = "ops",
        global = true
    )]
    pub metrics: Metrics,

    #[command(flatten)]
    pub app_users: AppUserConfig,

    #[command(flatten)]
    pub backends: BackendConfig,

    #[command(flatten)]
    pub org_users: OrgUserConfig,

    #[command(flatten)]
    pub limits: RateLimitConfig,

    #[command(flatten)]
    pub signals: SignalConfig,

    /// Write the audit trail to this file, one JSON object a line, instead of the database: for
    /// a deployment that keeps its audit elsewhere (a log shipper takes it from there). Each
    /// batch is appended and synced before the tokens it records are handed out; the file is
    /// opened for each batch, so it can be rotated by renaming. Events are then neither listed
    /// by `/v1/audit-events`, nor purged, nor scrubbed on erasure by Callsign.
    #[arg(long, env = "CALLSIGN_AUDIT_FILE", global = true)]
    pub audit_file: Option<PathBuf>,

    /// Days audit events are kept (0: forever).
    #[arg(
        long,
        env = "CALLSIGN_AUDIT_RETENTION_DAYS",
        default_value_t = 400,
        global = true
    )]
    pub audit_retention_days: u64,

    #[command(flatten)]
    pub secret_files: SecretFiles,

    /// Proxies (addresses or CIDR networks, comma-separated) whose `X-Forwarded-For` names the
    /// client for per-address limits; others' is ignored. IPv4 entries match IPv4 proxies on a
    /// dual-stack listener too. A hop a trusted proxy wrote that is not an address (`ip`,
    /// `ip:port`, `[ipv6]`, `[ipv6]:port`) refuses the request with 400 `InvalidForwardedFor`.
    #[arg(
        long,
        env = "CALLSIGN_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<String>,
    /// Origins browsers may call Callsign from (CORS), comma-separated; none by default.
    #[arg(
        long,
        env = "CALLSIGN_CORS_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub cors_origins: Vec<String>,

    /// Print the connection string of generated access keys even when standard output is not a
    /// terminal (by default it is printed only to a terminal, so container logs never hold a
    /// key).
    #[arg(long, global = true)]
    pub print_connection_string: bool,
}

impl Config {
    /// The database URL (given, or from its file), defaulting to a SQLite file in the data
    /// directory.
    pub fn database_url(&self) -> anyhow::Result<String> {
        let url = secrets::secret(&self.database_url, &self.secret_files.database_url_file)?;
        Ok(url
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("callsign.db").display())))
    }

    /// The master key (given, or from its file).
    pub fn master_key_secret(&self) -> anyhow::Result<Option<String>> {
        secrets::secret(&self.master_key, &self.secret_files.master_key_file)
    }

    /// The master key being replaced, during a rotation (given, or from its file).
    pub fn previous_master_key_secret(&self) -> anyhow::Result<Option<String>> {
        secrets::secret(
            &self.previous_master_key,
            &self.secret_files.previous_master_key_file,
        )
    }

    /// The access keys that seed an empty ring (given, or from their files).
    pub fn seed_key_secrets(&self) -> anyhow::Result<(Option<String>, Option<String>)> {
        Ok((
            secrets::secret(&self.primary_key, &self.secret_files.primary_key_file)?,
            secrets::secret(&self.secondary_key, &self.secret_files.secondary_key_file)?,
        ))
    }
}

/// Normalises a public endpoint: an absolute http(s) URL with no query or fragment, ending in
/// `/`. Characters that would break the Python SDK's token parsing are refused.
pub fn normalize_endpoint(raw: &str) -> Result<String, String> {
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .ok_or_else(|| format!("CALLSIGN_ENDPOINT '{raw}' must start with https:// or http://"))?;
    let host = rest.trim_end_matches('/');
    let valid = !host.is_empty()
        && !host.contains('/')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if valid {
        Ok(format!("{}{host}/", &raw[..raw.len() - rest.len()]))
    } else {
        Err(format!(
            "CALLSIGN_ENDPOINT '{raw}' must be scheme://host[:port]/ with no path, query or fragment"
        ))
    }
}

#[cfg(test)]
mod tests;
