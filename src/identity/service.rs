//! The identity use cases. Each write is committed before it returns and applied to this
//! instance's revocation cache at once; other instances learn of it through the store's feed.

use std::sync::Arc;

use time::OffsetDateTime;

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

pub struct Identities {
    store: Arc<dyn Store>,
    tokens: Arc<TokenAuthority>,
    revocations: Arc<RevocationCache>,
    issue_log: Arc<IssueLog>,
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
        let token = match token {
            Some(request) => Some(self.mint(&record, request, signer, now)?),
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

    /// Issues a token. Reads the identity's current generation from the store, so a token
    /// issued after a revocation returned (on any instance) is never born revoked.
    pub async fn issue(
        &self,
        id: IdentityId,
        request: &TokenRequest,
        signer: &ActiveKey,
        now: OffsetDateTime,
    ) -> Result<IssuedToken, IdentityError> {
        let record = self.find(id).await?;
        self.mint(&record, request, signer, now)
    }

    /// Kills every token the identity has now; tokens issued afterwards work.
    pub async fn revoke(&self, id: IdentityId, now: OffsetDateTime) -> Result<(), IdentityError> {
        let generation = self
            .store
            .revoke_tokens(id.uuid(), millis(now))
            .await?
            .ok_or(IdentityError::NotFound)?;
        let change = Change::Revoked {
            id: id.uuid(),
            generation,
        };
        self.revocations.apply(&change, millis(now));
        Ok(())
    }

    /// Erases the identity; its tokens die and it can never get another.
    pub async fn delete(&self, id: IdentityId, now: OffsetDateTime) -> Result<(), IdentityError> {
        if !self.store.delete_identity(id.uuid(), millis(now)).await? {
            return Err(IdentityError::NotFound);
        }
        self.revocations
            .apply(&Change::Deleted { id: id.uuid() }, millis(now));
        self.issue_log.forget(id.uuid());
        Ok(())
    }

    async fn find(&self, id: IdentityId) -> Result<IdentityRecord, IdentityError> {
        self.store
            .find_identity(id.uuid())
            .await?
            .ok_or(IdentityError::NotFound)
    }

    fn mint(
        &self,
        record: &IdentityRecord,
        request: &TokenRequest,
        signer: &ActiveKey,
        now: OffsetDateTime,
    ) -> Result<IssuedToken, IdentityError> {
        let id = IdentityId::from_uuid(record.id);
        let issued = self
            .tokens
            .mint(id, record.token_generation, request, signer, now)?;
        self.issue_log.record(record.id, millis(now));
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
