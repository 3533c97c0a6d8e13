//! The identity mapping and tokens of app users. An app user gets an identity the first time it
//! needs one (1:1); backends may create more (1:N) or link identities to several users (N:1,
//! N:M). Erasing an app user deletes every identity only it holds (their tokens die on every
//! instance) and its mapping rows, refresh families and account, and clears the client address
//! of every audit row about it, in one transaction; an identity shared with other users stays
//! theirs, and keeps its tokens. Audit rows that an app user's requests cause name that user
//! (`RequestContext::on_behalf_of`), so a row about a shared identity is scrubbed with it too.

use std::net::IpAddr;
use std::sync::Arc;

use super::{AppPolicy, AppUserError};
use crate::audit::{Action, AuditEvent, IssueSlot, RequestContext};
use crate::clock::SharedClock;
use crate::identity::{Identities, IdentityError};
use crate::keys::KeyRing;
use crate::rate_limit::{KeyedLimit, Rate, client_key};
use crate::store::{
    AppUserFilter, AppUserRecord, AppUserSearch, AppUserStore, GuestStore, Linked, MappingStore,
    RefreshStore, UserSessionStore,
};
use crate::token::{IssuedToken, TokenRequest};
use crate::vocabulary::{AppUserId, IdentityId};

/// The stores the app-user use cases work on.
#[derive(Clone)]
pub struct AppUserStores {
    pub users: Arc<dyn AppUserStore>,
    pub search: Arc<dyn AppUserSearch>,
    pub mapping: Arc<dyn MappingStore>,
    pub refresh: Arc<dyn RefreshStore>,
    pub sessions: Arc<dyn UserSessionStore>,
    pub guests: Arc<dyn GuestStore>,
}

/// An app user with its identities, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppUser {
    pub record: AppUserRecord,
    pub identities: Vec<IdentityId>,
}

pub struct AppUsers {
    stores: AppUserStores,
    identities: Arc<Identities>,
    ring: Arc<KeyRing>,
    policy: Arc<AppPolicy>,
    clock: SharedClock,
    /// App users erasing themselves, per client address.
    self_erasures: KeyedLimit<IpAddr>,
}

/// How long after a guest's last token expired it is deleted at the earliest: longer than the
/// issue log takes to record a token issued to it (so a new token is seen first) and than the
/// clock skew between instances.
pub const GUEST_GRACE_MS: i64 = 60_000;

/// Self-erasures one client address may make a minute. Each briefly holds back the audit
/// trail's appends (PostgreSQL) or checkpoints the database (SQLite), and a user of the app's
/// identity provider can come back and erase itself again.
const SELF_ERASURES_PER_MINUTE: u32 = 6;

impl AppUsers {
    pub fn new(
        stores: AppUserStores,
        identities: Arc<Identities>,
        ring: Arc<KeyRing>,
        policy: Arc<AppPolicy>,
        clock: SharedClock,
    ) -> Self {
        let rate = Rate::per_minute(SELF_ERASURES_PER_MINUTE).unwrap_or(Rate::MIN_PER_MINUTE);
        AppUsers {
            stores,
            identities,
            ring,
            policy,
            self_erasures: KeyedLimit::new(rate, clock.clone()),
            clock,
        }
    }

    pub fn policy(&self) -> &AppPolicy {
        &self.policy
    }

    pub(super) fn stores(&self) -> &AppUserStores {
        &self.stores
    }

    pub(super) fn identity_use_cases(&self) -> &Identities {
        &self.identities
    }

    /// Records an event of the app-user use cases in the audit trail.
    pub(super) fn record(&self, event: AuditEvent) {
        self.identities.audit().record(event);
    }

    /// The app user of an OpenID Connect subject, created (and audited, `appUser.created`) if
    /// new.
    pub async fn oidc_user(&self, issuer: &str, subject: &str) -> Result<AppUserId, AppUserError> {
        let fresh = AppUserId::generate();
        let id = self
            .stores
            .users
            .oidc_user(fresh, issuer, subject, self.clock.now_ms())
            .await?;
        // The store keeps a known subject's user: only the request that created it gets its own
        // id back, so concurrent first requests record one event.
        if id == fresh {
            self.record(AuditEvent::about_app_user(Action::AppUserCreated, Some(id)));
        }
        Ok(id)
    }

    /// The app user of an OpenID Connect subject, if it has ever been seen.
    pub async fn find_oidc_user(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<AppUserId>, AppUserError> {
        let id = self.stores.users.find_oidc_user(issuer, subject).await?;
        Ok(id)
    }

    pub async fn get(&self, user: AppUserId) -> Result<AppUser, AppUserError> {
        Ok(AppUser {
            record: self.stored(user).await?,
            identities: self.identities_of(user).await?,
        })
    }

    /// Up to `limit` app users matching `filter`, in id order.
    pub async fn find(
        &self,
        filter: &AppUserFilter,
        limit: u32,
    ) -> Result<Vec<AppUserRecord>, AppUserError> {
        Ok(self.stores.search.find_app_users(filter, limit).await?)
    }

    pub async fn identities_of(&self, user: AppUserId) -> Result<Vec<IdentityId>, AppUserError> {
        let ids = self.stores.mapping.identities_of(user).await?;
        ids.ok_or(AppUserError::UserNotFound)
    }

    /// The user's default (first) identity, if it has one.
    pub async fn find_default_identity(
        &self,
        user: AppUserId,
    ) -> Result<Option<IdentityId>, AppUserError> {
        Ok(self.identities_of(user).await?.first().copied())
    }

    /// The user's default identity, created now if it has none; `true` when created.
    pub async fn default_identity(
        &self,
        user: AppUserId,
    ) -> Result<(IdentityId, bool), AppUserError> {
        let (id, created) = self
            .stores
            .mapping
            .ensure_identity(user, IdentityId::generate(), self.clock.now_ms())
            .await?
            .ok_or(AppUserError::UserNotFound)?;
        // Found or created inside the transaction: known to exist.
        self.identities.note_exists(id);
        if created {
            self.record(AuditEvent::about_users_identity(
                Action::IdentityCreated,
                user,
                id,
            ));
        }
        Ok((id, created))
    }

    /// A token for one of the user's identities (its default one, created if need be, when
    /// `identity` is `None`), signed by the key for callers without an access key.
    pub async fn issue(
        &self,
        user: AppUserId,
        identity: Option<IdentityId>,
        request: &TokenRequest,
    ) -> Result<(IdentityId, IssuedToken), AppUserError> {
        self.ensure_enabled(user).await?;
        let identity = match identity {
            None => self.default_identity(user).await?.0,
            Some(id) if self.identities_of(user).await?.contains(&id) => id,
            Some(_) => return Err(AppUserError::NotUsersIdentity),
        };
        let issued = RequestContext::on_behalf_of(user, self.issue_for(identity, request)).await?;
        Ok((identity, issued))
    }

    /// Refuses a disabled user.
    pub(super) async fn ensure_enabled(&self, user: AppUserId) -> Result<(), AppUserError> {
        if self.stored(user).await?.disabled_at_ms.is_some() {
            return Err(AppUserError::Disabled);
        }
        Ok(())
    }

    /// The stored user, without its identities; [`AppUserError::UserNotFound`] if there is none.
    pub async fn stored(&self, user: AppUserId) -> Result<AppUserRecord, AppUserError> {
        self.stores
            .users
            .find_app_user(user)
            .await?
            .ok_or(AppUserError::UserNotFound)
    }

    /// Disables the user (`disabled`) or enables it; [`AppUserError::UserNotFound`] if there is
    /// no such user.
    pub(super) async fn set_disabled(
        &self,
        user: AppUserId,
        disabled: bool,
    ) -> Result<(), AppUserError> {
        let at_ms = disabled.then(|| self.clock.now_ms());
        if self.stores.users.set_disabled(user, at_ms).await? {
            Ok(())
        } else {
            Err(AppUserError::UserNotFound)
        }
    }

    /// A token for an identity already known to be the user's.
    pub(super) async fn issue_for(
        &self,
        identity: IdentityId,
        request: &TokenRequest,
    ) -> Result<IssuedToken, AppUserError> {
        self.issue_in(identity, request, None).await
    }

    /// [`AppUsers::issue_for`], its audit event in room reserved before (`slot`).
    pub(super) async fn issue_in(
        &self,
        identity: IdentityId,
        request: &TokenRequest,
        slot: Option<IssueSlot>,
    ) -> Result<IssuedToken, AppUserError> {
        let ring = self.ring.load();
        Ok(self
            .identities
            .issue_audited(identity, request, ring.service_signer(), slot)
            .await?)
    }

    /// One more identity for the user (1:N).
    pub async fn create_identity(&self, user: AppUserId) -> Result<IdentityId, AppUserError> {
        let id = IdentityId::generate();
        let created = self
            .stores
            .mapping
            .create_linked_identity(user, id, self.clock.now_ms())
            .await?;
        if !created {
            return Err(AppUserError::UserNotFound);
        }
        self.identities.note_exists(id);
        self.record(AuditEvent::about_users_identity(
            Action::IdentityCreated,
            user,
            id,
        ));
        Ok(id)
    }

    /// Links an existing identity to the user (N:1, N:M); `true` if it was not linked before.
    pub async fn link(&self, user: AppUserId, identity: IdentityId) -> Result<bool, AppUserError> {
        if identity.org_user().is_some() {
            // Its tokens come only from its own provider's: no app user may hold it.
            return Err(IdentityError::OrgUser.into());
        }
        match self
            .stores
            .mapping
            .link(user, identity, self.clock.now_ms())
            .await?
        {
            Linked::New => {
                self.record(AuditEvent::about_users_identity(
                    Action::IdentityLinked,
                    user,
                    identity,
                ));
                Ok(true)
            }
            Linked::Already => Ok(false),
            Linked::NoSuchUser => Err(AppUserError::UserNotFound),
            Linked::NoSuchIdentity => Err(AppUserError::IdentityNotFound),
        }
    }

    /// Removes a link; the identity itself and its tokens stay.
    pub async fn unlink(&self, user: AppUserId, identity: IdentityId) -> Result<(), AppUserError> {
        if self.stores.mapping.unlink(user, identity).await? {
            self.record(AuditEvent::about_users_identity(
                Action::IdentityUnlinked,
                user,
                identity,
            ));
            Ok(())
        } else {
            Err(AppUserError::NotUsersIdentity)
        }
    }

    pub async fn users_of(&self, identity: IdentityId) -> Result<Vec<AppUserId>, AppUserError> {
        let users = self.stores.mapping.users_of(identity).await?;
        Ok(users.into_iter().collect())
    }

    /// The user erasing itself, from `client`: [`AppUsers::erase`], at most
    /// [`SELF_ERASURES_PER_MINUTE`] times a minute from one address (IPv6: one /64).
    pub async fn erase_self(&self, user: AppUserId, client: IpAddr) -> Result<(), AppUserError> {
        self.self_erasures
            .check(&client_key(client))
            .map_err(|retry_after| AppUserError::Throttled { retry_after })?;
        self.erase(user).await
    }

    /// Forgets addresses that have not erased for a while (call periodically).
    pub fn forget_quiet_addresses(&self) {
        self.self_erasures.forget_quiet();
    }

    /// Erases the user (see the module documentation for shared identities).
    pub async fn erase(&self, user: AppUserId) -> Result<(), AppUserError> {
        let deleted = self
            .stores
            .users
            .erase_app_user(user, self.clock.now_ms())
            .await?
            .ok_or(AppUserError::UserNotFound)?;
        // The audit rows about the user and its deleted identities lost their client address
        // in the erasure's transaction; rows still on their way are written without it.
        self.identities.forget_deleted(&deleted);
        self.record(AuditEvent::about_app_user(
            Action::AppUserErased,
            Some(user),
        ));
        Ok(())
    }

    /// A fresh identity, held by no app user, with a token signed for callers without an
    /// access key.
    /// A new guest identity with its token. It lives until its last token expires.
    pub(super) async fn admit_guest(
        &self,
        request: &TokenRequest,
    ) -> Result<(IdentityId, IssuedToken), AppUserError> {
        let id = IdentityId::generate();
        let now_ms = self.clock.now_ms();
        let lifetime_ms = i64::from(request.lifetime.seconds()) * 1000;
        self.stores
            .guests
            .create_guest(id, now_ms, now_ms + lifetime_ms)
            .await?;
        self.identities.note_exists(id);
        self.record(AuditEvent::about_identity(Action::IdentityCreated, id));
        let token = self.issue_for(id, request).await?;
        Ok((id, token))
    }

    /// Deletes up to `limit` guest identities whose last token expired more than
    /// [`GUEST_GRACE_MS`] ago; how many.
    pub(super) async fn purge_guests(&self, limit: u32) -> Result<usize, AppUserError> {
        let now_ms = self.clock.now_ms();
        let purged = self
            .stores
            .guests
            .purge_guests(now_ms - GUEST_GRACE_MS, now_ms, limit)
            .await?;
        self.identities.forget_deleted(&purged);
        Ok(purged.len())
    }

    /// Revokes the tokens of every identity the user holds alone. An identity shared with other
    /// users keeps its tokens: one user signing out must not sign the others out.
    pub async fn revoke_sole_identities_tokens(&self, user: AppUserId) -> Result<(), AppUserError> {
        for identity in self.identities_of(user).await? {
            if self.users_of(identity).await?.len() <= 1 {
                self.identities.revoke_if_exists(identity).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
