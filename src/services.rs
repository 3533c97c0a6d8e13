//! The composition root: every use case and cache of Callsign, built in one place from a store,
//! a clock and a [`Blueprint`]. The server, the command line, the fuzz targets and the use-case
//! tests all build their services here, so a new service is wired once.

use std::sync::Arc;

use crate::audit::{Audit, AuditWriter, JsonLinesFile};
use crate::clock::SharedClock;
use crate::clock_skew::ClockSkew;
use crate::identity::{COMMIT_WAIT, Identities, IdentityStores, IssueLog};
use crate::keys::{
    Bootstrap, KeyAlgorithm, KeyError, KeyService, MasterKeys, SeedKeys, TokenAlgorithm,
};
use crate::revocation::RevocationCache;
use crate::signals::{EventKeyRing, SignalSettings, Transmitter};
use crate::store::Store;
use crate::token::TokenAuthority;
use crate::users::{
    Accounts, AppPolicy, AppUserStores, AppUsers, Credentials, Guests, Passwords, Sessions,
};
use crate::vocabulary::ResourceId;

/// What the services are built from, besides the store and the clock.
pub struct Blueprint {
    /// The deployment's resource: the first half of every identity id.
    pub resource: ResourceId,
    /// The public endpoint: the tokens' issuer, and what connection strings name.
    pub endpoint: String,
    /// The master key that seals the stored keys (with the one it replaces, in a rotation).
    pub master: MasterKeys,
    /// Access keys for an empty key ring; `None`: generated.
    pub seed: Option<SeedKeys>,
    /// What app users and guests may do.
    pub policy: AppPolicy,
    /// Password hashing, bounded.
    pub passwords: Passwords,
    /// Tokens one identity may be issued per minute; 0: no limit.
    pub tokens_per_identity: u32,
    /// How access tokens are signed.
    pub token_algorithm: TokenAlgorithm,
    /// How security event tokens are signed.
    pub event_algorithm: KeyAlgorithm,
    /// How the event transmitter delivers.
    pub signals: SignalSettings,
    /// A file the audit trail is written to instead of the database; `None`: the database.
    pub audit_file: Option<JsonLinesFile>,
}

/// Every service, shared by reference (a clone is a set of reference counts).
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn Store>,
    pub clock: SharedClock,
    /// The public endpoint put in connection strings.
    pub endpoint: String,
    pub audit: Arc<Audit>,
    pub keys: Arc<KeyService>,
    pub tokens: Arc<TokenAuthority>,
    pub revocations: Arc<RevocationCache>,
    /// When each identity was last issued a token, written to the store in batches.
    pub issue_log: Arc<IssueLog>,
    pub identities: Arc<Identities>,
    pub users: Arc<AppUsers>,
    pub accounts: Arc<Accounts>,
    pub sessions: Arc<Sessions>,
    pub guests: Arc<Guests>,
    /// Passwords set anew or reset with a one-time token.
    pub credentials: Arc<Credentials>,
    /// How far this instance's clock is off the database's.
    pub clock_skew: Arc<ClockSkew>,
    /// The Shared Signals transmitter: event streams to the services holding sessions.
    pub transmitter: Arc<Transmitter>,
}

/// The services, and what the caller runs beside them.
pub struct Built {
    pub services: Services,
    /// Writes the audit trail: run it until shutdown.
    pub audit_writer: AuditWriter,
    /// Whether the key ring was loaded, or generated or seeded now.
    pub bootstrap: Bootstrap,
}

impl Services {
    /// Loads (or creates) the key ring and wires every use case over `store`.
    pub async fn build(
        blueprint: Blueprint,
        store: Arc<dyn Store>,
        clock: SharedClock,
    ) -> Result<Built, KeyError> {
        let Blueprint {
            resource,
            endpoint,
            master,
            seed,
            policy,
            passwords,
            tokens_per_identity,
            token_algorithm,
            event_algorithm,
            signals,
            audit_file,
        } = blueprint;
        let event_master = master.clone();
        let master_for_streams = master.clone();
        let resource_for_streams = resource.clone();
        let (audit, audit_writer) = Audit::writing_to(store.clone(), audit_file, clock.clone());
        let (keys, bootstrap) = KeyService::bootstrap(
            store.clone(),
            master,
            seed,
            clock.clone(),
            audit.clone(),
            token_algorithm,
        )
        .await?;
        keys.adopt_algorithm().await?;
        let keys = Arc::new(keys);
        let tokens = Arc::new(TokenAuthority::new(
            keys.ring().clone(),
            resource,
            endpoint.clone(),
        ));
        let revocations = Arc::new(RevocationCache::new());
        let issue_log = Arc::new(IssueLog::new());
        let identities = Arc::new(
            Identities::new(
                IdentityStores {
                    identities: store.clone(),
                    revocations: store.clone(),
                },
                tokens.clone(),
                revocations.clone(),
                issue_log.clone(),
                clock.clone(),
                audit.clone(),
            )
            .limit_tokens(tokens_per_identity),
        );
        let policy = Arc::new(policy);
        let users = Arc::new(AppUsers::new(
            AppUserStores {
                users: store.clone(),
                search: store.clone(),
                mapping: store.clone(),
                refresh: store.clone(),
                sessions: store.clone(),
                guests: store.clone(),
            },
            identities.clone(),
            keys.ring().clone(),
            policy.clone(),
            clock.clone(),
        ));
        let accounts = Arc::new(Accounts::new(
            store.clone(),
            passwords,
            policy.password,
            clock.clone(),
            audit.clone(),
        ));
        let sessions = Arc::new(Sessions::new(users.clone(), clock.clone()));
        let guests = Arc::new(Guests::new(
            users.clone(),
            policy.guests.as_ref(),
            clock.clone(),
        ));
        let credentials = Arc::new(Credentials::new(
            accounts.clone(),
            sessions.clone(),
            users.clone(),
            store.clone(),
            clock.clone(),
            policy.password_reset_minutes,
        ));
        let transmitter = Arc::new(Transmitter::new(
            store.clone(),
            Arc::new(EventKeyRing::new(
                store.clone(),
                event_master,
                event_algorithm,
                clock.clone(),
            )),
            master_for_streams,
            endpoint.clone(),
            resource_for_streams,
            clock.clone(),
            audit.clone(),
            signals,
        ));
        let services = Services {
            store,
            transmitter,
            endpoint,
            audit,
            keys,
            tokens,
            revocations,
            issue_log,
            identities,
            users,
            accounts,
            sessions,
            guests,
            credentials,
            clock_skew: Arc::new(ClockSkew::new(COMMIT_WAIT)),
            clock,
        };
        Ok(Built {
            services,
            audit_writer,
            bootstrap,
        })
    }
}
