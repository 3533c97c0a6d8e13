//! Sessions of app users: a sign-in starts a refresh-token family; each refresh returns a new
//! access token and a new refresh token (rotation); presenting a spent refresh token (to
//! refresh or to sign out) is taken as theft: every session of its user ends, committed
//! although that request fails, and the tokens of the identities only that user holds are
//! revoked. Sign-out ends one family; sign-out everywhere ends them all and revokes the tokens
//! of every identity only the user holds.

use std::sync::Arc;

use super::opaque_token;
use super::refresh_rule::{Verdict, judge};
use super::{AppUserError, AppUsers};
use crate::audit::{Action, AuditEvent, RequestContext};
use crate::clock::SharedClock;
use crate::identity::IdentityError;
use crate::store::{Session, SessionOrigin};
use crate::telemetry::metrics::{self, AuthFailure};
use crate::token::{IssuedToken, TokenRequest};
use crate::vocabulary::{AppUserId, FamilyId, IdentityId};

/// Marks Callsign refresh tokens, so secret scanners and people can tell them apart.
const PREFIX: &str = "csr_";

/// An opaque refresh token. Only its SHA-256 is ever stored; no `Debug`, never logged.
pub struct RefreshToken(String);

impl RefreshToken {
    fn generate() -> Result<Self, AppUserError> {
        opaque_token::generate(PREFIX).map(RefreshToken)
    }

    /// A token a client presented; anything not shaped like one is refused without a lookup.
    pub fn presented(raw: String) -> Result<Self, AppUserError> {
        if opaque_token::well_formed(&raw, PREFIX) {
            Ok(RefreshToken(raw))
        } else {
            Err(AppUserError::InvalidRefreshToken)
        }
    }

    fn hash(&self) -> [u8; 32] {
        opaque_token::hash(&self.0)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// What a sign-in or a refresh returns. No `Debug`: it holds bearer credentials.
pub struct SessionTokens {
    pub refresh_token: RefreshToken,
    pub access_token: IssuedToken,
    pub user: AppUserId,
    pub identity: IdentityId,
}

pub struct Sessions {
    users: Arc<AppUsers>,
    clock: SharedClock,
}

impl Sessions {
    pub fn new(users: Arc<AppUsers>, clock: SharedClock) -> Self {
        Sessions { users, clock }
    }

    pub(super) fn users(&self) -> &AppUsers {
        &self.users
    }

    pub(super) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Starts a session for a user who has just proved who they are.
    pub async fn sign_in(
        &self,
        user: AppUserId,
        request: &TokenRequest,
    ) -> Result<SessionTokens, AppUserError> {
        let (identity, _) = self.users.default_identity(user).await?;
        let refresh_token = RefreshToken::generate()?;
        let family = FamilyId::generate();
        let refresh = &self.users.stores().refresh;
        let now_ms = self.clock.now_ms();
        let context = RequestContext::current();
        let origin = SessionOrigin {
            client_address: context.client_address.map(|ip| ip.to_string()),
            user_agent: context.user_agent.as_deref().map(str::to_owned),
        };
        refresh
            .start_family(
                family,
                user,
                identity,
                &refresh_token.hash(),
                &origin,
                now_ms,
            )
            .await?;
        // Checked once the session exists: a user disabled meanwhile had its sessions ended
        // before or is seen disabled here, so no session outlives the disabling.
        if let Err(refused) = self.users.ensure_enabled(user).await {
            refresh.revoke_family(family, now_ms).await?;
            return Err(refused);
        }
        let access_token =
            RequestContext::on_behalf_of(user, self.users.issue_for(identity, request)).await?;
        self.users
            .record(AuditEvent::about_app_user(Action::SignedIn, Some(user)));
        Ok(SessionTokens {
            refresh_token,
            access_token,
            user,
            identity,
        })
    }

    /// Rotates `presented` into a new refresh token, with a new access token. The audit
    /// trail's room for the token is reserved before the write opens: a trail that is behind
    /// fails the refresh without holding the database's writer.
    pub async fn refresh(
        &self,
        presented: &RefreshToken,
        request: &TokenRequest,
    ) -> Result<SessionTokens, AppUserError> {
        let successor = RefreshToken::generate()?;
        let slot = self
            .users
            .identity_use_cases()
            .audit()
            .reserve_issue()
            .await
            .map_err(IdentityError::from)?;
        let now_ms = self.clock.now_ms();
        let mut steps = self
            .users
            .stores()
            .refresh
            .begin_refresh(&presented.hash())
            .await?;
        let found = steps.presented().await?;
        match judge(found.as_ref(), self.users.policy().refresh, now_ms) {
            Verdict::Live(session) => {
                steps
                    .rotate(session.family, &successor.hash(), now_ms)
                    .await?;
                // The rotation just proved the identity exists: issuing needs no further read
                // (none could be made while the rotation holds the write).
                self.users
                    .identity_use_cases()
                    .note_exists(session.identity);
                // Issued before the rotation commits. A refresh that cannot issue (the
                // identity's token budget spent, or the identity deleted meanwhile) leaves the
                // presented token unspent; and as a session's rotations and its end take turns,
                // a token issued here predates any end of the session that follows, so the
                // revocation that goes with that end catches it.
                let issuing = self.users.issue_in(session.identity, request, Some(slot));
                let access_token = match RequestContext::on_behalf_of(session.user, issuing).await {
                    // Deleted since: the session ended with it.
                    Err(AppUserError::IdentityNotFound) => {
                        return Err(AppUserError::InvalidRefreshToken);
                    }
                    other => other?,
                };
                steps.commit().await?;
                Ok(SessionTokens {
                    refresh_token: successor,
                    access_token,
                    user: session.user,
                    identity: session.identity,
                })
            }
            Verdict::Spent(session) => {
                // The family ends now, committed although this request fails.
                steps.revoke_family(session.family, now_ms).await?;
                steps.commit().await?;
                self.reused(session.user, session.identity).await?;
                Err(AppUserError::InvalidRefreshToken)
            }
            Verdict::Invalid => {
                metrics::authentication_failed(AuthFailure::RefreshToken);
                Err(AppUserError::InvalidRefreshToken)
            }
        }
    }

    /// Forgets sessions that have ended (signed out, revoked or past their absolute lifetime).
    pub async fn purge_ended(&self) -> Result<u64, AppUserError> {
        let limits = self.users.policy().refresh;
        Ok(self
            .users
            .stores()
            .refresh
            .purge_ended_families(self.clock.now_ms() - limits.absolute_ms)
            .await?)
    }

    /// Ends the session (the family) of a live refresh token. A spent one is reuse, as in
    /// [`Sessions::refresh`].
    pub async fn sign_out(&self, presented: &RefreshToken) -> Result<AppUserId, AppUserError> {
        let session = self.live_session(presented).await?;
        let user = session.user;
        self.users
            .stores()
            .refresh
            .revoke_family(session.family, self.clock.now_ms())
            .await?;
        self.users
            .record(AuditEvent::about_app_user(Action::SessionEnded, Some(user)));
        Ok(user)
    }

    /// Ends every session of the user of a live refresh token, and revokes the tokens of every
    /// identity only it holds. A spent one is reuse, as in [`Sessions::refresh`].
    pub async fn sign_out_everywhere(
        &self,
        presented: &RefreshToken,
    ) -> Result<AppUserId, AppUserError> {
        let session = self.live_session(presented).await?;
        let user = session.user;
        let ended = self.end_everywhere(user).await?;
        tracing::info!(%user, sessions = ended, "app user signed out everywhere");
        self.users.record(AuditEvent::about_app_user(
            Action::SessionEndedEverywhere,
            Some(user),
        ));
        Ok(user)
    }

    /// The session of a live refresh token. A spent token whose session has not ended is taken
    /// as theft ([`Sessions::reused`]) and refused like an unknown one.
    pub(super) async fn live_session(
        &self,
        presented: &RefreshToken,
    ) -> Result<Session, AppUserError> {
        let found = self
            .users
            .stores()
            .refresh
            .find_presented(&presented.hash())
            .await?;
        match judge(
            found.as_ref(),
            self.users.policy().refresh,
            self.clock.now_ms(),
        ) {
            Verdict::Live(session) => Ok(session),
            Verdict::Spent(session) => {
                self.reused(session.user, session.identity).await?;
                Err(AppUserError::InvalidRefreshToken)
            }
            Verdict::Invalid => {
                metrics::authentication_failed(AuthFailure::RefreshToken);
                Err(AppUserError::InvalidRefreshToken)
            }
        }
    }

    /// A spent refresh token came back: whoever holds the user's tokens may be a thief, so every
    /// session of the user ends and the tokens of the identities only it holds are revoked. An
    /// identity shared with other users keeps its tokens: reusing one's own spent token must not
    /// be a way to cut the co-holders off.
    async fn reused(&self, user: AppUserId, identity: IdentityId) -> Result<(), AppUserError> {
        tracing::warn!(
            %user,
            "a spent refresh token was presented again: every session of its user ends, and the tokens of the identities only it holds are revoked"
        );
        self.users.record(AuditEvent::about_users_identity(
            Action::RefreshTokenReused,
            user,
            identity,
        ));
        self.end_everywhere(user).await?;
        Ok(())
    }

    /// Ends every session of the user and revokes the tokens of every identity only it holds;
    /// how many sessions were live. Tokens go first: should ending the sessions fail, the
    /// sessions still work, so the client can simply try again. And once more after: a refresh
    /// that rotated between the two issued a token the first cut-off missed, while none can
    /// rotate once the sessions have ended (see [`Sessions::refresh`]).
    pub(super) async fn end_everywhere(&self, user: AppUserId) -> Result<u64, AppUserError> {
        RequestContext::on_behalf_of(user, async {
            self.users.revoke_sole_identities_tokens(user).await?;
            let ended = self
                .users
                .stores()
                .refresh
                .revoke_user_families(user, self.clock.now_ms())
                .await?;
            self.users.revoke_sole_identities_tokens(user).await?;
            Ok(ended)
        })
        .await
    }
}

#[cfg(test)]
mod tests;
