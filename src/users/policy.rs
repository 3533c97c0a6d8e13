//! What a deployment allows app users and guests: scopes, token lifetimes, refresh lifetimes,
//! open registration, the password policy. Clients choose within it.

use crate::store::RefreshLimits;
use crate::token::{Lifetime, ScopeSet, TokenRequest};

use super::{AppUserError, PasswordPolicy};

/// Tokens for guests: a fixed scope set and lifetime.
#[derive(Debug, Clone)]
pub struct GuestPolicy {
    pub scopes: ScopeSet,
    pub lifetime: Lifetime,
    /// Guest tokens per client address per minute.
    pub per_minute: u32,
}

#[derive(Debug, Clone)]
pub struct AppPolicy {
    /// The scopes app users may ask for; also what they get when they ask for none.
    pub scopes: ScopeSet,
    /// `None`: guests are off.
    pub guests: Option<GuestPolicy>,
    pub refresh: RefreshLimits,
    /// Anyone may create a built-in account (else only backends with an access key).
    pub open_registration: bool,
    /// What a new password must be.
    pub password: PasswordPolicy,
    /// How long a password-reset token is good for, in minutes.
    pub password_reset_minutes: u32,
}

impl AppPolicy {
    /// What an app user gets without asking: every allowed scope, the longest lifetime (the
    /// hero samples' 24-hour chat and voip token).
    pub fn standard_request(&self) -> TokenRequest {
        TokenRequest {
            scopes: self.scopes.clone(),
            lifetime: Lifetime::DEFAULT,
        }
    }

    /// The token an app user asked for, within what the deployment allows.
    pub fn token_request(
        &self,
        scopes: Option<&[String]>,
        minutes: Option<i64>,
    ) -> Result<TokenRequest, AppUserError> {
        let Some(names) = scopes else {
            return Ok(TokenRequest {
                lifetime: Lifetime::from_minutes(minutes)?,
                ..self.standard_request()
            });
        };
        let scopes = ScopeSet::parse(names)?;
        if let Some(scope) = scopes.iter().find(|s| !self.scopes.iter().any(|a| a == *s)) {
            return Err(AppUserError::ScopeNotAllowed(scope.as_str().to_owned()));
        }
        Ok(TokenRequest {
            scopes,
            lifetime: Lifetime::from_minutes(minutes)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> AppPolicy {
        AppPolicy {
            scopes: ScopeSet::parse(&["chat", "voip"]).unwrap(),
            guests: None,
            refresh: RefreshLimits {
                idle_ms: 1,
                absolute_ms: 2,
            },
            open_registration: false,
            password: PasswordPolicy::default(),
            password_reset_minutes: 60,
        }
    }

    #[test]
    fn clients_choose_within_the_allowed_scopes() {
        let policy = policy();
        let all = policy.token_request(None, None).unwrap();
        assert_eq!(all.scopes, policy.scopes);
        assert_eq!(all.lifetime, Lifetime::DEFAULT);
        let chat = policy
            .token_request(Some(&["chat".to_owned()]), Some(60))
            .unwrap();
        assert_eq!(chat.scopes.join(","), "chat");
        assert!(matches!(
            policy.token_request(Some(&["chat.join".to_owned()]), None),
            Err(AppUserError::ScopeNotAllowed(s)) if s == "chat.join"
        ));
        assert!(matches!(
            policy.token_request(None, Some(59)),
            Err(AppUserError::Lifetime(_))
        ));
    }
}
