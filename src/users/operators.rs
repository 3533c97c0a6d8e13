//! What a backend or an operator does to an app user without erasing it: disable it (it can no
//! longer sign in or be issued tokens; its sessions end and its tokens are revoked at once, as
//! signing out everywhere does), enable it again (what disabling ended stays ended), and end all
//! its sessions. Each is an audit event.

use super::{AppUserError, Sessions};
use crate::audit::{Action, AuditEvent};
use crate::vocabulary::AppUserId;

impl Sessions {
    /// Disables the user: refused at sign-in and when asking for tokens from now on, every
    /// session ended, the tokens of the identities only it holds revoked.
    pub async fn disable(&self, user: AppUserId) -> Result<(), AppUserError> {
        self.users().set_disabled(user, true).await?;
        // Disabled first: a sign-in racing this cannot start a session the end below misses.
        let ended = self.end_everywhere(user).await?;
        tracing::info!(%user, sessions = ended, "app user disabled");
        self.users().record(AuditEvent::about_app_user(
            Action::AppUserDisabled,
            Some(user),
        ));
        Ok(())
    }

    /// Enables the user again. Sessions and tokens that disabling ended stay ended.
    pub async fn enable(&self, user: AppUserId) -> Result<(), AppUserError> {
        self.users().set_disabled(user, false).await?;
        self.users().record(AuditEvent::about_app_user(
            Action::AppUserEnabled,
            Some(user),
        ));
        Ok(())
    }

    /// Ends every session of the user and revokes the tokens of the identities only it holds,
    /// as signing out everywhere does; the user stays enabled. How many sessions were live.
    pub async fn end_all(&self, user: AppUserId) -> Result<u64, AppUserError> {
        self.users().stored(user).await?;
        let ended = self.end_everywhere(user).await?;
        self.users().record(AuditEvent::about_app_user(
            Action::SessionEndedEverywhere,
            Some(user),
        ));
        Ok(ended)
    }
}
