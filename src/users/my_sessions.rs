//! A user's sessions as it sees them (and a backend on its behalf): each live session with when
//! it started and was last refreshed and where it started (client address and user agent, as
//! given); ending one, or every one but the current. A session ended this way stops refreshing;
//! access tokens it already issued live out their lifetime, as after signing out.

use super::{AppUserError, RefreshToken, Sessions};
use crate::audit::{Action, AuditEvent};
use crate::store::SessionRecord;
use crate::vocabulary::{AppUserId, FamilyId};

impl Sessions {
    /// The live sessions of the user of a live session, and which of them that one is.
    pub async fn mine(
        &self,
        presented: &RefreshToken,
    ) -> Result<(FamilyId, Vec<SessionRecord>), AppUserError> {
        let session = self.live_session(presented).await?;
        Ok((session.family, self.of_user(session.user).await?))
    }

    /// Ends one of the sessions of the user of a live session (it may be that one).
    pub async fn end_mine(
        &self,
        presented: &RefreshToken,
        session: FamilyId,
    ) -> Result<(), AppUserError> {
        let user = self.live_session(presented).await?.user;
        self.end_one(user, session).await
    }

    /// Ends every other session of the user of a live session; how many.
    pub async fn end_others(&self, presented: &RefreshToken) -> Result<u64, AppUserError> {
        let session = self.live_session(presented).await?;
        let ended = self
            .users()
            .stores()
            .refresh
            .revoke_other_families(session.user, session.family, self.now_ms())
            .await?;
        self.users().record(AuditEvent::about_app_user(
            Action::SessionEnded,
            Some(session.user),
        ));
        Ok(ended)
    }

    /// The user's live sessions, newest first.
    pub async fn of_user(&self, user: AppUserId) -> Result<Vec<SessionRecord>, AppUserError> {
        let limits = self.users().policy().refresh;
        let now_ms = self.now_ms();
        Ok(self
            .users()
            .stores()
            .sessions
            .sessions_of(user, now_ms - limits.absolute_ms, now_ms - limits.idle_ms)
            .await?)
    }

    /// Ends one of the user's sessions; [`AppUserError::SessionNotFound`] if it is not one of
    /// its live sessions.
    pub async fn end_one(&self, user: AppUserId, session: FamilyId) -> Result<(), AppUserError> {
        let ended = self
            .users()
            .stores()
            .sessions
            .end_session(user, session, self.now_ms())
            .await?;
        if !ended {
            return Err(AppUserError::SessionNotFound);
        }
        self.users()
            .record(AuditEvent::about_app_user(Action::SessionEnded, Some(user)));
        Ok(())
    }
}
