//! What the audit trail records: one name per action, as stored and as filtered by.

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    IdentityCreated,
    IdentityDeleted,
    TokenIssued,
    TokensRevoked,
    AccessKeyRegenerated,
    AccessKeyListed,
    SigningKeyRotated,
    MasterKeyRotated,
    AppUserErased,
    SignedIn,
    SignInFailed,
    RefreshTokenReused,
    AccountCreated,
    SessionEnded,
    SessionEndedEverywhere,
    IdentityLinked,
    IdentityUnlinked,
    AppUserDisabled,
    AppUserEnabled,
    PasswordReset,
    PasswordResetIssued,
    PasswordChanged,
    AppUserCreated,
    StreamCreated,
    StreamUpdated,
    StreamStatusChanged,
    StreamSubjectRemoved,
    StreamSubjectAdded,
    StreamDeleted,
}

impl Action {
    pub const ALL: [Action; 29] = [
        Action::IdentityCreated,
        Action::IdentityDeleted,
        Action::TokenIssued,
        Action::TokensRevoked,
        Action::AccessKeyRegenerated,
        Action::AccessKeyListed,
        Action::SigningKeyRotated,
        Action::MasterKeyRotated,
        Action::AppUserErased,
        Action::SignedIn,
        Action::SignInFailed,
        Action::RefreshTokenReused,
        Action::AccountCreated,
        Action::SessionEnded,
        Action::SessionEndedEverywhere,
        Action::IdentityLinked,
        Action::IdentityUnlinked,
        Action::AppUserDisabled,
        Action::AppUserEnabled,
        Action::PasswordReset,
        Action::PasswordResetIssued,
        Action::PasswordChanged,
        Action::AppUserCreated,
        Action::StreamCreated,
        Action::StreamUpdated,
        Action::StreamStatusChanged,
        Action::StreamSubjectRemoved,
        Action::StreamSubjectAdded,
        Action::StreamDeleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::IdentityCreated => "identity.created",
            Action::IdentityDeleted => "identity.deleted",
            Action::TokenIssued => "token.issued",
            Action::TokensRevoked => "tokens.revoked",
            Action::AccessKeyRegenerated => "accessKey.regenerated",
            Action::AccessKeyListed => "accessKey.listed",
            Action::SigningKeyRotated => "signingKey.rotated",
            Action::MasterKeyRotated => "masterKey.rotated",
            Action::AppUserErased => "appUser.erased",
            Action::SignedIn => "appUser.signedIn",
            Action::SignInFailed => "appUser.signInFailed",
            Action::RefreshTokenReused => "refreshToken.reused",
            Action::AccountCreated => "account.created",
            Action::SessionEnded => "session.ended",
            Action::SessionEndedEverywhere => "session.endedEverywhere",
            Action::IdentityLinked => "identity.linked",
            Action::IdentityUnlinked => "identity.unlinked",
            Action::AppUserDisabled => "appUser.disabled",
            Action::AppUserEnabled => "appUser.enabled",
            Action::PasswordReset => "account.passwordReset",
            Action::PasswordResetIssued => "account.passwordResetIssued",
            Action::PasswordChanged => "account.passwordChanged",
            Action::AppUserCreated => "appUser.created",
            Action::StreamCreated => "stream.created",
            Action::StreamUpdated => "stream.updated",
            Action::StreamStatusChanged => "stream.statusChanged",
            Action::StreamSubjectRemoved => "stream.subjectRemoved",
            Action::StreamSubjectAdded => "stream.subjectAdded",
            Action::StreamDeleted => "stream.deleted",
        }
    }

    pub fn parse(raw: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == raw)
    }
}
