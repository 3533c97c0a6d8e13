//! Built-in accounts for apps without an identity provider. Usernames are NFKC-normalised and
//! lower-cased, so look-alike spellings (full-width letters, ligatures, case) are one name, and
//! no two accounts have names with one UTS #39 skeleton (Cyrillic `асе`, Latin `ace`); a
//! sign-in is by the exact name. Passwords are length-bounded and hashed with argon2id. A
//! sign-in with an unknown username and one with a wrong password get the same answer in about
//! the same time, and failures are throttled per account and address, per account, and per
//! address.

use std::net::IpAddr;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::OnceCell;
use unicode_normalization::UnicodeNormalization;

use super::lockout::Lockout;
use super::{AppUserError, PasswordPolicy, Passwords, Throttle};
use crate::audit::{Action, Audit, AuditEvent};
use crate::clock::SharedClock;
use crate::rate_limit::client_key;
use crate::store::AppUserStore;
use crate::telemetry::metrics::{self, AuthFailure};
use crate::vocabulary::AppUserId;

const USERNAME_MAX_CHARS: usize = 64;
const PASSWORD_MIN_CHARS: usize = 8;
const PASSWORD_MAX_CHARS: usize = 256;
/// Accounts given their skeleton at a time.
const BACKFILL_BATCH: u32 = 500;
/// Open registration: accounts one client address may create before each further one locks.
const FREE_REGISTRATIONS_PER_ADDRESS: u32 = 10;

/// A normalised username: NFKC, lower case, 1 to 64 letters, digits or `.` `_` `-` `@` `+`, and
/// not mixing Latin letters with letters of another script (`pаypal` with a Cyrillic `а` is
/// refused; `josé` and `мария` are fine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// A name as stored and compared: NFKC-normalised, lower case (also for a prefix to search
    /// by).
    pub fn normalise(raw: &str) -> String {
        raw.nfkc().collect::<String>().to_lowercase()
    }

    pub fn parse(raw: &str) -> Result<Self, AppUserError> {
        let name = Self::normalise(raw);
        let invalid = |why: &str| AppUserError::InvalidUsername(format!("username {why}"));
        let length = name.chars().count();
        if length == 0 || length > USERNAME_MAX_CHARS {
            return Err(invalid("must have 1 to 64 characters"));
        }
        if !name
            .chars()
            .all(|c| c.is_alphanumeric() || ".-_@+".contains(c))
        {
            return Err(invalid(
                "may contain only letters, digits and . _ - @ + (no spaces or control characters)",
            ));
        }
        let latin = name.chars().any(is_latin_letter);
        let other = name
            .chars()
            .any(|c| c.is_alphabetic() && !is_latin_letter(c));
        if latin && other {
            return Err(invalid(
                "must not mix Latin letters with letters of other scripts",
            ));
        }
        Ok(Username(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name's UTS #39 skeleton: names that only look alike (Cyrillic `асе`, Latin `ace`;
    /// `rn`, `m`) have the same one, and so cannot both have an account.
    pub fn skeleton(&self) -> String {
        skeleton(&self.0)
    }
}

fn skeleton(name: &str) -> String {
    unicode_security::skeleton(name).collect()
}

/// Basic Latin, Latin-1 Supplement, Latin Extended-A and -B, Latin Extended Additional.
fn is_latin_letter(c: char) -> bool {
    c.is_alphabetic()
        && (c.is_ascii()
            || ('\u{00C0}'..='\u{024F}').contains(&c)
            || ('\u{1E00}'..='\u{1EFF}').contains(&c))
}

/// A password: 8 to 256 characters, no NUL. Never logged, no `Debug`.
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    pub fn parse(raw: String) -> Result<Self, AppUserError> {
        let length = raw.chars().count();
        if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&length) {
            return Err(AppUserError::InvalidPassword(format!(
                "password must have {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters"
            )));
        }
        if raw.contains('\0') {
            return Err(AppUserError::InvalidPassword(
                "password must not contain NUL characters".into(),
            ));
        }
        Ok(Password(raw.into()))
    }

    pub(super) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

pub struct Accounts {
    store: Arc<dyn AppUserStore>,
    passwords: Passwords,
    /// What a new password must be.
    policy: PasswordPolicy,
    lockout: Lockout,
    registrations: Throttle,
    /// Once, before the first account this process creates.
    skeletons_backfilled: OnceCell<()>,
    clock: SharedClock,
    audit: Arc<Audit>,
}

impl Accounts {
    pub fn new(
        store: Arc<dyn AppUserStore>,
        passwords: Passwords,
        policy: PasswordPolicy,
        clock: SharedClock,
        audit: Arc<Audit>,
    ) -> Self {
        Accounts {
            store,
            passwords,
            policy,
            lockout: Lockout::new(clock.clone()),
            registrations: Throttle::new(FREE_REGISTRATIONS_PER_ADDRESS, clock.clone()),
            skeletons_backfilled: OnceCell::new(),
            clock,
            audit,
        }
    }

    /// Creates an account; the username must be free and the password within the policy.
    pub async fn create(
        &self,
        username: &Username,
        password: &Password,
    ) -> Result<AppUserId, AppUserError> {
        self.check_policy(username, password).await?;
        self.skeletons_backfilled
            .get_or_try_init(|| self.backfill_skeletons())
            .await?;
        let hash = self.passwords.hash(password).await?;
        let id = AppUserId::generate();
        let created = self
            .store
            .create_account(
                id,
                username.as_str(),
                &username.skeleton(),
                &hash,
                self.clock.now_ms(),
            )
            .await?;
        if created {
            self.audit
                .record(AuditEvent::about_app_user(Action::AccountCreated, Some(id)));
            Ok(id)
        } else {
            Err(AppUserError::UsernameTaken)
        }
    }

    /// The hash of a new password for `username`'s account, once the policy lets it through.
    pub(super) async fn hash_new_password(
        &self,
        username: &Username,
        password: &Password,
    ) -> Result<String, AppUserError> {
        self.check_policy(username, password).await?;
        self.passwords.hash(password).await
    }

    /// Checks a new password against the policy, off the async workers (zxcvbn takes up to a
    /// few milliseconds).
    async fn check_policy(
        &self,
        username: &Username,
        password: &Password,
    ) -> Result<(), AppUserError> {
        let (policy, username, password) = (self.policy, username.clone(), password.clone());
        tokio::task::spawn_blocking(move || policy.check(&password, &username))
            .await
            .map_err(|e| AppUserError::Hashing(format!("password policy check: {e}")))?
    }

    /// Gives the accounts stored before skeletons were kept theirs, so a new name cannot look
    /// like theirs. Of two old accounts with one skeleton the second keeps none: both still sign
    /// in by their exact names, and a third look-alike is refused all the same.
    async fn backfill_skeletons(&self) -> Result<(), AppUserError> {
        let mut clashes = 0u64;
        let mut after = None;
        loop {
            let batch = self
                .store
                .accounts_without_skeleton(after, BACKFILL_BATCH)
                .await?;
            for (id, username) in &batch {
                if !self.store.set_skeleton(*id, &skeleton(username)).await? {
                    clashes += 1;
                }
            }
            match batch.last() {
                Some((last, _)) if batch.len() == BACKFILL_BATCH as usize => after = Some(*last),
                _ => break,
            }
        }
        if clashes > 0 {
            tracing::warn!(
                accounts = clashes,
                "accounts whose usernames look like another's keep no skeleton"
            );
        }
        Ok(())
    }

    /// Open self-registration: [`Accounts::create`], throttled per client address.
    pub async fn register(
        &self,
        username: &Username,
        password: &Password,
        client: IpAddr,
    ) -> Result<AppUserId, AppUserError> {
        self.registrations
            .attempt(&client_key(client).to_string())
            .map_err(|retry_after| AppUserError::Throttled { retry_after })?;
        self.create(username, password).await
    }

    /// Checks a sign-in. Unknown user and wrong password are both [`AppUserError::BadCredentials`].
    pub async fn verify(
        &self,
        username: &Username,
        password: &Password,
        client: IpAddr,
    ) -> Result<AppUserId, AppUserError> {
        let attempt = self
            .lockout
            .admit(username.as_str(), client)
            .map_err(|retry_after| AppUserError::Throttled { retry_after })?;
        let account = match self.store.find_account(username.as_str()).await {
            Ok(account) => account,
            Err(error) => {
                self.lockout.unchecked(attempt);
                return Err(error.into());
            }
        };
        let (id, hash, disabled) = match account {
            Some(account) => (
                Some(account.id),
                Some(account.password_hash),
                account.disabled,
            ),
            None => (None, None, false),
        };
        let matches = match self.passwords.verify(password, hash).await {
            Err(error) => {
                self.lockout.unchecked(attempt);
                return Err(error);
            }
            Ok(matches) => matches,
        };
        match id {
            Some(id) if matches => {
                self.lockout.succeeded(attempt);
                // Told only to whoever knows the password.
                if disabled {
                    return Err(AppUserError::Disabled);
                }
                Ok(id)
            }
            // Already counted as failures when let through (on the account, not while locked).
            _ => {
                metrics::authentication_failed(AuthFailure::Password);
                // The account's id if it exists; never the username (personal data).
                self.audit
                    .record(AuditEvent::about_app_user(Action::SignInFailed, id));
                match self.lockout.failed(attempt) {
                    Some(retry_after) => Err(AppUserError::Throttled { retry_after }),
                    None => Err(AppUserError::BadCredentials),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_so_look_alikes_collide() {
        let plain = Username::parse("alice").unwrap();
        assert_eq!(Username::parse("ALICE").unwrap(), plain);
        assert_eq!(Username::parse("ａｌｉｃｅ").unwrap(), plain); // full-width
        assert_eq!(Username::parse("Ａlice").unwrap(), plain);
        assert_eq!(Username::parse("ﬁona").unwrap().as_str(), "fiona"); // ligature
        assert_eq!(Username::parse("мария").unwrap().as_str(), "мария");
        assert_eq!(
            Username::parse("José.Müller").unwrap().as_str(),
            "josé.müller"
        );
    }

    #[test]
    fn names_that_only_look_alike_share_a_skeleton() {
        let skeleton = |name: &str| Username::parse(name).unwrap().skeleton();
        assert_eq!(skeleton("асе"), skeleton("ace")); // Cyrillic
        assert_eq!(skeleton("сор"), skeleton("cop"));
        assert_eq!(skeleton("rnodern"), skeleton("modern"));
        assert_eq!(skeleton("bob1"), skeleton("bobl"));
        assert_ne!(skeleton("aces"), skeleton("ace"));
        assert_ne!(skeleton("мария"), skeleton("maria"));
    }

    #[test]
    fn bad_usernames_are_refused_with_a_reason() {
        let (length, characters, scripts) = (
            "1 to 64 characters",
            "may contain only",
            "must not mix Latin",
        );
        for (bad, reason) in [
            ("", length),
            ("a b", characters),
            ("tab\there", characters),
            ("nul\0", characters),
            ("аlice", scripts),
            ("x".repeat(65).as_str(), length),
            ("a/b", characters),
        ] {
            assert!(
                matches!(
                    Username::parse(bad),
                    Err(AppUserError::InvalidUsername(why)) if why.contains(reason)
                ),
                "{bad:?}: expected a refusal saying {reason:?}"
            );
        }
    }

    #[test]
    fn passwords_are_bounded() {
        assert!(Password::parse("correct horse".into()).is_ok());
        for (bad, reason) in [
            ("".to_owned(), "8 to 256 characters"),
            ("short".to_owned(), "8 to 256 characters"),
            ("x".repeat(257), "8 to 256 characters"),
            ("with\0nul..".to_owned(), "NUL"),
        ] {
            assert!(
                matches!(
                    Password::parse(bad),
                    Err(AppUserError::InvalidPassword(why)) if why.contains(reason)
                ),
                "expected a refusal saying {reason:?}"
            );
        }
    }
}
