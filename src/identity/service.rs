//! The identity use cases. Each write is committed before it returns and applied to this
//! instance's revocation cache at once; other instances learn of it through the store's feed.
//!
//! Issuing touches no database in the steady state: identities this instance has seen are
//! remembered for an hour, and revocation state is in memory. What keeps issue and revoke
//! race-free across instances is time, not a read: a revocation's cut-off is set
//! [`COMMIT_WAIT`] ahead of the revoking instance's clock, and the call returns only once that
//! instant has passed. A token issued before the revoke returned has `iatMs` at or before the
//! cut-off (dead); one issued after has `iatMs` past it (live), on every instance whose clock is
//! within `COMMIT_WAIT` of the revoker's.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use time::OffsetDateTime;

use super::{ExternalId, IssueLog};
use crate::audit::{Action, Audit, AuditEvent, IssueSlot};
use crate::clock::{SharedClock, from_millis, millis};
use crate::keys::SigningKey;
use crate::rate_limit::{KeyedLimit, Rate};
use crate::revocation::{Revocation, RevocationCache};
use crate::store::{Adopted, Created, IdentityRecord, IdentityStore, RevocationStore, StoreError};
use crate::telemetry::metrics;
use crate::token::{IssuedToken, Lifetime, ScopeSet, TokenAuthority, TokenRequest};
use crate::vocabulary::{IdentityId, OrgUserId};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("identity not found")]
    NotFound,
    /// An identity with a fixed id (an organisation user's) deleted so recently that it may not
    /// come back yet.
    #[error("identity deleted")]
    Deleted,
    /// An organisation user's identity gets tokens only by exchanging their provider's token,
    /// never by name alone.
    #[error("an organisation user's identity")]
    OrgUser,
    /// The token an organisation user's was to be exchanged for has expired meanwhile.
    #[error("the exchanged token has expired")]
    Expired,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("token signing failed: {0}")]
    Signing(#[from] jsonwebtoken::errors::Error),
    #[error("too many tokens for this identity")]
    TooManyTokens { retry_after: std::time::Duration },
    #[error(transparent)]
    AuditBacklogged(#[from] crate::audit::AuditBacklogged),
}

/// An identity as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: IdentityId,
    pub external_id: Option<String>,
    pub last_token_issued_at: Option<OffsetDateTime>,
}

/// The result of a create call (holds a token: no `Debug`).
#[derive(Clone)]
pub struct CreatedIdentity {
    pub identity: Identity,
    pub token: Option<IssuedToken>,
    /// `false` when an identity with the same external id already existed.
    pub is_new: bool,
}

/// How far ahead of the clock a revocation's cut-off is set, and how long revoke waits: the
/// tolerated clock skew between instances.
pub const COMMIT_WAIT: Duration = Duration::from_millis(20);
/// How long an identity known to exist is trusted without asking the store. Far shorter than
/// deletion tombstones are kept, so a deletion is always seen before this expires.
pub(super) const KNOWN_FOR: time::Duration = time::Duration::hours(1);
const KNOWN_CAPACITY: u64 = 1_000_000;

/// How long `revoke` still waits after its write committed at `now` for the cut-off to pass on
/// every clock within the skew bound (one millisecond past it, as cut-offs are inclusive).
pub(super) fn commit_wait_remaining(cut_off: OffsetDateTime, now: OffsetDateTime) -> Duration {
    let remaining = cut_off - now + time::Duration::milliseconds(1);
    if remaining.is_positive() {
        remaining.unsigned_abs()
    } else {
        Duration::ZERO
    }
}

/// The stores the identity use cases write to.
pub struct IdentityStores {
    pub identities: Arc<dyn IdentityStore>,
    pub revocations: Arc<dyn RevocationStore>,
}

pub struct Identities {
    store: IdentityStores,
    tokens: Arc<TokenAuthority>,
    revocations: Arc<RevocationCache>,
    issue_log: Arc<IssueLog>,
    clock: SharedClock,
    /// Identities recently seen to exist, each with the instant (ms) it is trusted until.
    known: Cache<IdentityId, i64>,
    /// Tokens per identity, when limited.
    token_limit: Option<KeyedLimit<IdentityId>>,
    audit: Arc<Audit>,
}

impl Identities {
    pub fn new(
        store: IdentityStores,
        tokens: Arc<TokenAuthority>,
        revocations: Arc<RevocationCache>,
        issue_log: Arc<IssueLog>,
        clock: SharedClock,
        audit: Arc<Audit>,
    ) -> Self {
        Identities {
            store,
            tokens,
            revocations,
            issue_log,
            clock,
            known: Cache::builder().max_capacity(KNOWN_CAPACITY).build(),
            token_limit: None,
            audit,
        }
    }

    /// Limits the tokens each identity may be issued to `per_minute` (0: no limit).
    pub fn limit_tokens(mut self, per_minute: u32) -> Self {
        self.token_limit =
            Rate::per_minute(per_minute).map(|rate| KeyedLimit::new(rate, self.clock.clone()));
        self
    }

    /// Forgets identities that are back to a full burst (call periodically).
    pub fn forget_quiet_limits(&self) {
        self.token_limit.iter().for_each(KeyedLimit::forget_quiet);
    }

    /// Where the identity use cases and those built on them record audit events.
    pub fn audit(&self) -> &Arc<Audit> {
        &self.audit
    }

    /// Notes an identity created outside [`Identities::create`] (with an app user's mapping).
    pub fn note_exists(&self, id: IdentityId) {
        self.remember(id, self.clock.now());
    }

    /// Applies deletions committed outside [`Identities::delete`] (an app user's erasure).
    pub fn forget_deleted(&self, ids: &[IdentityId]) {
        let now_ms = self.clock.now_ms();
        metrics::identities_deleted(ids.len());
        for &id in ids {
            self.revocations.apply(Revocation::Deleted { id }, now_ms);
            self.known.invalidate(&id);
            self.issue_log.forget(id);
            self.audit
                .record(AuditEvent::about_identity(Action::IdentityDeleted, id));
        }
    }

    fn remember(&self, id: IdentityId, now: OffsetDateTime) {
        self.known.insert(id, millis(now + KNOWN_FOR));
    }

    fn is_known(&self, id: IdentityId, now: OffsetDateTime) -> bool {
        self.known
            .get(&id)
            .is_some_and(|until_ms| millis(now) < until_ms)
    }

    /// Creates an identity (or finds the one with this external id), with a token if asked.
    pub async fn create(
        &self,
        external_id: Option<&ExternalId>,
        token: Option<&TokenRequest>,
        signer: &SigningKey,
    ) -> Result<CreatedIdentity, IdentityError> {
        let now = self.clock.now();
        let created = self
            .store
            .identities
            .create_identity(
                IdentityId::generate(),
                external_id.map(ExternalId::as_str),
                millis(now),
            )
            .await?;
        let (record, is_new) = match created {
            Created::New(record) => (record, true),
            Created::Existing(record) => (record, false),
        };
        self.remember(record.id, now);
        if is_new {
            self.audit.record(AuditEvent::about_identity(
                Action::IdentityCreated,
                record.id,
            ));
        }
        let token = match token {
            Some(request) => Some(self.mint(record.id, request, signer, now, None).await?),
            None => None,
        };
        Ok(CreatedIdentity {
            identity: self.view(record),
            token,
            is_new,
        })
    }

    pub async fn get(&self, id: IdentityId) -> Result<Identity, IdentityError> {
        let record = self.find(id).await?;
        Ok(self.view(record))
    }

    /// Issues a token: from memory when the identity is known, else after one store read.
    pub async fn issue(
        &self,
        id: IdentityId,
        request: &TokenRequest,
        signer: &SigningKey,
    ) -> Result<IssuedToken, IdentityError> {
        self.issue_audited(id, request, signer, None).await
    }

    /// [`Identities::issue`], its audit event in room reserved before (`slot`) or waited for.
    pub async fn issue_audited(
        &self,
        id: IdentityId,
        request: &TokenRequest,
        signer: &SigningKey,
        slot: Option<IssueSlot>,
    ) -> Result<IssuedToken, IdentityError> {
        if id.org_user().is_some() {
            return Err(IdentityError::OrgUser);
        }
        self.issue_to_existing(id, request, signer, slot, self.clock.now())
            .await
    }

    /// Issues a token, signed at `now`, to any identity that exists (or is known to).
    async fn issue_to_existing(
        &self,
        id: IdentityId,
        request: &TokenRequest,
        signer: &SigningKey,
        slot: Option<IssueSlot>,
        now: OffsetDateTime,
    ) -> Result<IssuedToken, IdentityError> {
        let uuid = id;
        if self.revocations.is_deleted(uuid) {
            return Err(IdentityError::NotFound);
        }
        if let Some(limit) = &self.token_limit {
            limit.check(&uuid).map_err(|retry_after| {
                metrics::rate_limited("identity");
                IdentityError::TooManyTokens { retry_after }
            })?;
        }
        let known = self.is_known(uuid, now);
        metrics::known_identity_lookup(known);
        if !known {
            self.find(id).await?;
        }
        self.mint(id, request, signer, now, slot).await
    }

    /// Issues a token with `scopes` to an organisation user's identity (`8:orgid:…`), creating
    /// the identity on first use; it expires no later than `not_after` (the token exchanged
    /// for it), and at most a day after it is signed. One deleted stays deleted until every
    /// instance has forgotten the deletion.
    pub async fn issue_to_org_user(
        &self,
        user: OrgUserId,
        scopes: ScopeSet,
        not_after: OffsetDateTime,
        signer: &SigningKey,
    ) -> Result<IssuedToken, IdentityError> {
        let id = IdentityId::of_org_user(user);
        if self.revocations.is_deleted(id) {
            return Err(IdentityError::Deleted);
        }
        let now = self.clock.now();
        if !self.is_known(id, now) {
            match self
                .store
                .identities
                .adopt_identity(id, millis(now))
                .await?
            {
                Adopted::New => self
                    .audit
                    .record(AuditEvent::about_identity(Action::IdentityCreated, id)),
                Adopted::Existing => {}
                Adopted::Deleted => return Err(IdentityError::Deleted),
            }
            self.remember(id, now);
        }
        // Signed at `now`, read after the store answered, so the wait cannot stretch it.
        let now = self.clock.now();
        let lifetime = Duration::try_from(not_after - now)
            .ok()
            .and_then(Lifetime::at_most)
            .ok_or(IdentityError::Expired)?;
        let request = TokenRequest { scopes, lifetime };
        self.issue_to_existing(id, &request, signer, None, now)
            .await
    }

    /// Kills every token the identity was issued until now; tokens issued after it returns work.
    pub async fn revoke(&self, id: IdentityId) -> Result<(), IdentityError> {
        let now = self.clock.now();
        let cut_off = now + COMMIT_WAIT;
        let before_ms = millis(cut_off);
        if !self.store.revocations.revoke_tokens(id, before_ms).await? {
            return Err(IdentityError::NotFound);
        }
        let fact = Revocation::Revoked { id, before_ms };
        self.revocations.apply(fact, millis(now));
        metrics::tokens_revoked();
        self.audit
            .record(AuditEvent::about_identity(Action::TokensRevoked, id));
        // Commit wait: return only once every clock within the skew bound is past the cut-off.
        tokio::time::sleep(commit_wait_remaining(cut_off, self.clock.now())).await;
        Ok(())
    }

    /// [`Identities::revoke`], where an identity deleted meanwhile is as good as revoked.
    pub async fn revoke_if_exists(&self, id: IdentityId) -> Result<(), IdentityError> {
        match self.revoke(id).await {
            Err(IdentityError::NotFound) => Ok(()),
            other => other,
        }
    }

    /// Erases the identity; its tokens die and it can never get another.
    pub async fn delete(&self, id: IdentityId) -> Result<(), IdentityError> {
        let now_ms = self.clock.now_ms();
        if !self.store.identities.delete_identity(id, now_ms).await? {
            return Err(IdentityError::NotFound);
        }
        self.forget_deleted(&[id]);
        Ok(())
    }

    async fn find(&self, id: IdentityId) -> Result<IdentityRecord, IdentityError> {
        let record = self
            .store
            .identities
            .find_identity(id)
            .await?
            .ok_or(IdentityError::NotFound)?;
        self.remember(record.id, self.clock.now());
        Ok(record)
    }

    /// Signs the token, then has the audit trail take its event: a token the trail cannot
    /// record is not handed out.
    async fn mint(
        &self,
        id: IdentityId,
        request: &TokenRequest,
        signer: &SigningKey,
        now: OffsetDateTime,
        slot: Option<IssueSlot>,
    ) -> Result<IssuedToken, IdentityError> {
        let issued = self.tokens.mint(id, request, signer, now)?;
        let event = AuditEvent::about_identity(Action::TokenIssued, id)
            .with_details_of(&TokenDetails::of(request));
        match slot {
            Some(slot) => self.audit.record_issue_in(slot, event),
            None => self.audit.record_issue(event).await?,
        }
        metrics::token_issued(request.scopes.iter().map(|scope| scope.as_str()));
        self.issue_log
            .record(id, millis(now), millis(issued.expires_on));
        Ok(issued)
    }

    fn view(&self, record: IdentityRecord) -> Identity {
        let stored = record.last_token_issued_at_ms;
        let last_ms = stored.max(self.issue_log.pending(record.id));
        Identity {
            id: record.id,
            external_id: record.external_id,
            last_token_issued_at: last_ms.and_then(from_millis),
        }
    }
}

/// What the audit trail keeps of an issued token.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenDetails {
    scopes: Vec<&'static str>,
    expires_in_minutes: u32,
    /// Only for a lifetime that is not whole minutes (an exchanged token's).
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in_seconds: Option<u32>,
}

impl TokenDetails {
    fn of(request: &TokenRequest) -> Self {
        let seconds = request.lifetime.seconds();
        TokenDetails {
            scopes: request.scopes.iter().map(|scope| scope.as_str()).collect(),
            expires_in_minutes: request.lifetime.minutes(),
            expires_in_seconds: (!seconds.is_multiple_of(60)).then_some(seconds),
        }
    }
}
