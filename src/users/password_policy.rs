//! What a new password must be, checked when one is set (an account created), never at sign-in,
//! so a password set under an older policy keeps working:
//!
//! - at least the configured number of characters (8 by default, as OWASP ASVS asks; at most
//!   256, the longest password accepted at all);
//! - not the username;
//! - not one of the most common passwords, nor close to one: zxcvbn's list of the 30 000
//!   passwords most found in breaches, shipped in the binary, matched whole or with its l33t,
//!   reversed and padded variants where zxcvbn judges the result weak (score 2 or less).
//!
//! Each refusal names its rule.

use zxcvbn::feedback::Warning;

use super::{AppUserError, Password, Username};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_chars: usize,
}

impl PasswordPolicy {
    /// The shortest minimum an operator may set.
    pub const LEAST_MIN_CHARS: usize = 8;
    /// The longest minimum an operator may set.
    pub const MOST_MIN_CHARS: usize = 64;

    /// `min_chars` from [`Self::LEAST_MIN_CHARS`] to [`Self::MOST_MIN_CHARS`].
    pub fn new(min_chars: usize) -> Result<Self, String> {
        if (Self::LEAST_MIN_CHARS..=Self::MOST_MIN_CHARS).contains(&min_chars) {
            Ok(PasswordPolicy { min_chars })
        } else {
            Err(format!(
                "the minimum password length must be {} to {} characters",
                Self::LEAST_MIN_CHARS,
                Self::MOST_MIN_CHARS
            ))
        }
    }

    /// Whether `password` may be set for `username`; CPU-bound (zxcvbn): call it off the
    /// async workers.
    pub fn check(&self, password: &Password, username: &Username) -> Result<(), AppUserError> {
        let refuse = |rule: &str| Err(AppUserError::InvalidPassword(rule.to_owned()));
        let secret = password.expose();
        if secret.chars().count() < self.min_chars {
            return Err(AppUserError::InvalidPassword(format!(
                "password must have at least {} characters (rule: minimum length)",
                self.min_chars
            )));
        }
        if secret.to_lowercase() == username.as_str().to_lowercase() {
            return refuse("password must not be the username (rule: not the username)");
        }
        if is_common(secret) {
            return refuse(
                "password is one of the most common passwords, or close to one; choose another \
                 (rule: not a common password)",
            );
        }
        Ok(())
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_chars: Self::LEAST_MIN_CHARS,
        }
    }
}

/// Whether zxcvbn finds `password` to be, or to be built on, one of its common passwords, and
/// weak for it.
fn is_common(password: &str) -> bool {
    let entropy = zxcvbn::zxcvbn(password, &[]);
    matches!(
        entropy.feedback().and_then(|feedback| feedback.warning()),
        Some(
            Warning::ThisIsATop10Password
                | Warning::ThisIsATop100Password
                | Warning::ThisIsACommonPassword
                | Warning::ThisIsSimilarToACommonlyUsedPassword
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: PasswordPolicy, password: &str) -> Result<(), String> {
        let password = Password::parse(password.into()).map_err(|e| e.to_string())?;
        let username = Username::parse("alice").map_err(|e| e.to_string())?;
        policy.check(&password, &username).map_err(|e| match e {
            AppUserError::InvalidPassword(message) => message,
            other => other.to_string(),
        })
    }

    #[test]
    fn common_passwords_and_their_variants_are_refused_by_name() {
        for common in [
            "password",
            "12345678",
            "qwertyuiop",
            "P@ssw0rd",
            "iloveyou1",
            "drowssap",
        ] {
            let refused = check(PasswordPolicy::default(), common).unwrap_err();
            assert!(
                refused.contains("rule: not a common password"),
                "{common}: {refused}"
            );
        }
    }

    #[test]
    fn uncommon_passwords_pass() {
        for fine in [
            "correct horse battery staple",
            "tangerine-orbit-71",
            "Wq8#zLp2vN",
        ] {
            assert_eq!(check(PasswordPolicy::default(), fine), Ok(()), "{fine}");
        }
    }

    #[test]
    fn the_minimum_length_is_the_configured_one() {
        let twelve = PasswordPolicy::new(12).unwrap();
        let eleven = "mauve-otter";
        assert_eq!(eleven.chars().count(), 11);
        let refused = check(twelve, eleven).unwrap_err();
        assert!(refused.contains("at least 12 characters"), "{refused}");
        assert_eq!(check(twelve, "mauve-otte42"), Ok(()));
        assert_eq!(check(PasswordPolicy::default(), eleven), Ok(()));
    }

    #[test]
    fn the_username_is_not_a_password() {
        let username = Username::parse("alice-in-chains").unwrap();
        let password = Password::parse("Alice-In-Chains".into()).unwrap();
        assert!(matches!(
            PasswordPolicy::default().check(&password, &username),
            Err(AppUserError::InvalidPassword(message)) if message.contains("rule: not the username")
        ));
    }

    #[test]
    fn minimums_outside_the_bounds_are_refused() {
        assert!(PasswordPolicy::new(7).is_err());
        assert!(PasswordPolicy::new(65).is_err());
        assert!(PasswordPolicy::new(8).is_ok() && PasswordPolicy::new(64).is_ok());
    }
}
