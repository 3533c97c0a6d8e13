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
use uuid::Uuid;

use super::{ExternalId, IdentityId, IssueLog};
use crate::changes::Change;
use crate::clock::{from_millis, millis};
use crate::keys::ActiveKey;
use crate::revocation::RevocationCache;
use crate::store::{Created, IdentityRecord, Store, StoreError};
use crate::token::{IssuedToken, TokenAuthority, TokenRequest};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("identity not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("token signing failed: {0}")]
    Signing(#[from] jsonwebtoken::errors::Error),
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
const KNOWN_FOR: Duration = Duration::from_secs(3600);
const KNOWN_CAPACITY: u64 = 1_000_000;

pub struct Identities {
    store: Arc<dyn Store>,
    tokens: Arc<TokenAuthority>,
    revocations: Arc<RevocationCache>,
    issue_log: Arc<IssueLog>,
    /// Identities recently seen to exist.
    known: Cache<Uuid, ()>,
}

impl Identities {
    pub fn new(
        store: Arc<dyn Store>,
        tokens: Arc<TokenAuthority>,
        revocations: Arc<RevocationCache>,
        issue_log: Arc<IssueLog>,
    ) -> Self {
        Identities {
            store,
            tokens,
            revocations,
            issue_log,
            known: Cache::builder()
                .max_capacity(KNOWN_CAPACITY)
                .time_to_live(KNOWN_FOR)
                .build(),
        }
    }

    /// Creates an identity (or finds the one with this external id), with a token if asked.
    pub async fn create(
        &self,
        external_id: Option<&ExternalId>,
        token: Option<&TokenRequest>,
        signer: &ActiveKey,
        now: OffsetDateTime,
    ) -> Result<CreatedIdentity, IdentityError> {
        let created = self
            .store
            .create_identity(
                IdentityId::generate().uuid(),
                external_id.map(ExternalId::as_str),
                millis(now),
            )
            .await?;
        let (record, is_new) = match created {
            Created::New(record) => (record, true),
            Created::Existing(record) => (record, false),
        };
        self.known.insert(record.id, ());
        let token = match token {
            Some(request) => {
                Some(self.mint(IdentityId::from_uuid(record.id), request, signer, now)?)
            }
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
        signer: &ActiveKey,
        now: OffsetDateTime,
    ) -> Result<IssuedToken, IdentityError> {
        let uuid = id.uuid();
        if self.revocations.is_deleted(uuid) {
            return Err(IdentityError::NotFound);
        }
        if !self.known.contains_key(&uuid) {
            self.find(id).await?;
        }
        self.mint(id, request, signer, now)
    }

    /// Kills every token the identity was issued until now; tokens issued after it returns work.
    pub async fn revoke(&self, id: IdentityId, now: OffsetDateTime) -> Result<(), IdentityError> {
        let cut_off = now + COMMIT_WAIT;
        let before_ms = millis(cut_off);
        if !self.store.revoke_tokens(id.uuid(), before_ms).await? {
            return Err(IdentityError::NotFound);
        }
        let change = Change::Revoked {
            id: id.uuid(),
            before_ms,
        };
        self.revocations.apply(&change, millis(now));
        // Commit wait: return only once every clock within the skew bound is past the cut-off.
        let remaining = cut_off - OffsetDateTime::now_utc() + time::Duration::milliseconds(1);
        if remaining.is_positive() {
            tokio::time::sleep(remaining.unsigned_abs()).await;
        }
        Ok(())
    }

    /// Erases the identity; its tokens die and it can never get another.
    pub async fn delete(&self, id: IdentityId, now: OffsetDateTime) -> Result<(), IdentityError> {
        if !self.store.delete_identity(id.uuid(), millis(now)).await? {
            return Err(IdentityError::NotFound);
        }
        self.revocations
            .apply(&Change::Deleted { id: id.uuid() }, millis(now));
        self.known.invalidate(&id.uuid());
        self.issue_log.forget(id.uuid());
        Ok(())
    }

    async fn find(&self, id: IdentityId) -> Result<IdentityRecord, IdentityError> {
        let record = self
            .store
            .find_identity(id.uuid())
            .await?
            .ok_or(IdentityError::NotFound)?;
        self.known.insert(record.id, ());
        Ok(record)
    }

    fn mint(
        &self,
        id: IdentityId,
        request: &TokenRequest,
        signer: &ActiveKey,
        now: OffsetDateTime,
    ) -> Result<IssuedToken, IdentityError> {
        let issued = self.tokens.mint(id, request, signer, now)?;
        self.issue_log.record(id.uuid(), millis(now));
        Ok(issued)
    }

    fn view(&self, record: IdentityRecord) -> Identity {
        let stored = record.last_token_issued_at_ms;
        let last_ms = stored.max(self.issue_log.pending(record.id));
        Identity {
            id: IdentityId::from_uuid(record.id),
            external_id: record.external_id,
            last_token_issued_at: last_ms.and_then(from_millis),
        }
    }
}
