//! A built-in account's password after it was created: changed by its user (with a live session
//! and the current password: the other sessions end), set anew by a backend, or reset by the
//! user with a one-time token a backend issued (the app delivers it by its own channel; Callsign
//! sends no mail). A reset token is 256 random bits, stored only as its SHA-256, good once and
//! for the configured time. Either way every session of the user ends and the tokens of the
//! identities only it holds are revoked: whoever knew the old password is out.

use std::sync::Arc;

use time::OffsetDateTime;

use super::opaque_token;
use super::{Accounts, AppUserError, AppUsers, Password, RefreshToken, Sessions, Username};
use crate::audit::{Action, AuditEvent};
use crate::clock::{SharedClock, from_millis};
use crate::store::PasswordResetStore;
use crate::vocabulary::AppUserId;

/// Marks Callsign password-reset tokens, so secret scanners and people can tell them apart.
const PREFIX: &str = "csp_";

/// A one-time password-reset token. Only its SHA-256 is stored; no `Debug`, never logged.
pub struct ResetToken(String);

impl ResetToken {
    fn generate() -> Result<Self, AppUserError> {
        opaque_token::generate(PREFIX).map(ResetToken)
    }

    /// A token a client presented; anything not shaped like one is refused without a lookup.
    pub fn presented(raw: String) -> Result<Self, AppUserError> {
        if opaque_token::well_formed(&raw, PREFIX) {
            Ok(ResetToken(raw))
        } else {
            Err(AppUserError::InvalidResetToken)
        }
    }

    fn hash(&self) -> [u8; 32] {
        opaque_token::hash(&self.0)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

pub struct Credentials {
    accounts: Arc<Accounts>,
    sessions: Arc<Sessions>,
    users: Arc<AppUsers>,
    store: Arc<dyn PasswordResetStore>,
    clock: SharedClock,
    /// How long a reset token is good for, in ms.
    reset_lifetime_ms: i64,
}

impl Credentials {
    pub fn new(
        accounts: Arc<Accounts>,
        sessions: Arc<Sessions>,
        users: Arc<AppUsers>,
        store: Arc<dyn PasswordResetStore>,
        clock: SharedClock,
        reset_minutes: u32,
    ) -> Self {
        Credentials {
            accounts,
            sessions,
            users,
            store,
            clock,
            reset_lifetime_ms: i64::from(reset_minutes) * 60_000,
        }
    }

    /// Sets the user's password (within the policy) and ends its sessions.
    pub async fn set_password(
        &self,
        user: AppUserId,
        password: &Password,
    ) -> Result<(), AppUserError> {
        let username = self.account_name(user).await?;
        self.replace(user, &username, password).await
    }

    /// A reset token for the user's account, and when it expires.
    pub async fn issue_reset_token(
        &self,
        user: AppUserId,
    ) -> Result<(ResetToken, OffsetDateTime), AppUserError> {
        self.account_name(user).await?;
        let token = ResetToken::generate()?;
        let now_ms = self.clock.now_ms();
        let expires_at_ms = now_ms + self.reset_lifetime_ms;
        self.store
            .create_reset_token(&token.hash(), user, expires_at_ms, now_ms)
            .await?;
        self.users.record(AuditEvent::about_app_user(
            Action::PasswordResetIssued,
            Some(user),
        ));
        let expires = from_millis(expires_at_ms).ok_or(AppUserError::InvalidResetToken)?;
        Ok((token, expires))
    }

    /// Sets a new password with a reset token, spending it. A password the policy refuses
    /// leaves the token unspent, so the user can try another.
    pub async fn redeem(
        &self,
        token: &ResetToken,
        password: &Password,
    ) -> Result<AppUserId, AppUserError> {
        let now_ms = self.clock.now_ms();
        let user = self
            .store
            .find_reset_token(&token.hash(), now_ms)
            .await?
            .ok_or(AppUserError::InvalidResetToken)?;
        let username = self.account_name(user).await?;
        let hash = self.accounts.hash_new_password(&username, password).await?;
        match self.store.spend_reset_token(&token.hash(), now_ms).await? {
            Some(spent_by) if spent_by == user => {}
            _ => return Err(AppUserError::InvalidResetToken),
        }
        self.store_password(user, &hash).await?;
        Ok(user)
    }

    /// Changes the password of the user of a live session, given its current password: every
    /// other session of the user ends (their refresh tokens stop working; access tokens already
    /// issued live out their lifetime), this one goes on. How many sessions ended.
    pub async fn change(
        &self,
        session: &RefreshToken,
        current: &Password,
        new: &Password,
        client: std::net::IpAddr,
    ) -> Result<u64, AppUserError> {
        let session = self.sessions.live_session(session).await?;
        let username = self.account_name(session.user).await?;
        // Throttled like a sign-in: a stolen session must not become a password oracle.
        if self.accounts.verify(&username, current, client).await? != session.user {
            return Err(AppUserError::BadCredentials);
        }
        let hash = self.accounts.hash_new_password(&username, new).await?;
        if !self
            .store
            .set_password_hash(session.user, &hash, self.clock.now_ms())
            .await?
        {
            return Err(AppUserError::NotAnAccount);
        }
        let ended = self
            .users
            .stores()
            .refresh
            .revoke_other_families(session.user, session.family, self.clock.now_ms())
            .await?;
        self.users.record(AuditEvent::about_app_user(
            Action::PasswordChanged,
            Some(session.user),
        ));
        Ok(ended)
    }

    async fn replace(
        &self,
        user: AppUserId,
        username: &Username,
        password: &Password,
    ) -> Result<(), AppUserError> {
        let hash = self.accounts.hash_new_password(username, password).await?;
        self.store_password(user, &hash).await
    }

    /// Stores the new hash, then ends every session and revokes the sole identities' tokens.
    async fn store_password(&self, user: AppUserId, hash: &str) -> Result<(), AppUserError> {
        if !self
            .store
            .set_password_hash(user, hash, self.clock.now_ms())
            .await?
        {
            return Err(AppUserError::NotAnAccount);
        }
        self.sessions.end_everywhere(user).await?;
        self.users.record(AuditEvent::about_app_user(
            Action::PasswordReset,
            Some(user),
        ));
        Ok(())
    }

    /// The username of the user's built-in account.
    async fn account_name(&self, user: AppUserId) -> Result<Username, AppUserError> {
        let record = self.users.stored(user).await?;
        let stored = record.username.ok_or(AppUserError::NotAnAccount)?;
        Username::parse(&stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::testing::Fixture;

    fn minutes(n: i64) -> time::Duration {
        time::Duration::minutes(n)
    }

    fn password() -> Password {
        Password::parse("glass-kayak-88".into()).unwrap()
    }

    /// The fixture's deployment keeps reset tokens for 60 minutes.
    #[tokio::test]
    async fn a_reset_token_works_until_it_expires_and_not_after() {
        let f = Fixture::new().await;
        let user = f.app_user("forgetful").await;
        let (late, expires) = f.credentials.issue_reset_token(user).await.unwrap();
        assert_eq!(expires, f.clock.now() + minutes(60));
        f.clock.advance(minutes(60));
        assert!(matches!(
            f.credentials.redeem(&late, &password()).await,
            Err(AppUserError::InvalidResetToken)
        ));

        let (in_time, _) = f.credentials.issue_reset_token(user).await.unwrap();
        f.clock.advance(minutes(59));
        assert_eq!(
            f.credentials.redeem(&in_time, &password()).await.unwrap(),
            user
        );
    }
}
