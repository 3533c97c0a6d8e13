//! Password hashing: argon2id with OWASP's parameters (19 MiB, t=2, p=1) on dedicated hashing
//! threads ([`super::hashing`]), so sign-in floods can neither starve the runtime nor grow
//! memory: at most `concurrency` hashes run at once, each in memory its thread reuses, and at
//! most `waiting` more wait in a bounded queue. A check past that is refused at once
//! ([`AppUserError::Busy`], 503 with `Retry-After`) instead of waiting behind all the others
//! while its client times out.

use std::sync::Arc;
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, Version};

use super::AppUserError;
use super::hashing::{self, HashingThreads, Memory, Refused};

/// OWASP's argon2id minimum: m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

/// What a client refused for a full queue is told to wait: the queue drains in well under it.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Passwords {
    argon: Arc<Argon2<'static>>,
    threads: HashingThreads,
    /// Verified against when the account does not exist, so unknown users take as long.
    dummy_hash: Arc<str>,
}

impl Passwords {
    /// Starts `concurrency` hashing threads (each keeps 19 MiB) with a queue of `waiting`.
    pub fn new(concurrency: usize, waiting: usize) -> Result<Self, AppUserError> {
        let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
            .map_err(|e| AppUserError::Hashing(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let dummy_hash = hashing::decoy(&argon).map_err(AppUserError::Hashing)?;
        let threads = HashingThreads::start(concurrency, waiting, params)
            .map_err(|e| AppUserError::Hashing(format!("cannot start the hashing threads: {e}")))?;
        Ok(Passwords {
            argon: Arc::new(argon),
            threads,
            dummy_hash: dummy_hash.into(),
        })
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) with a fresh random salt.
    pub async fn hash(&self, password: &super::Password) -> Result<String, AppUserError> {
        let argon = self.argon.clone();
        let password = password.clone();
        self.on_hashing_thread(move |memory| {
            hashing::hash(&argon, memory, password.expose().as_bytes())
                .map_err(AppUserError::Hashing)
        })
        .await?
    }

    /// Whether `password` matches `hash`; with no hash, checks against a dummy and says no.
    pub async fn verify(
        &self,
        password: &super::Password,
        hash: Option<String>,
    ) -> Result<bool, AppUserError> {
        let password = password.clone();
        let exists = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = self
            .on_hashing_thread(move |memory| {
                hashing::verify(memory, password.expose().as_bytes(), &hash)
            })
            .await?;
        Ok(exists && matches)
    }

    async fn on_hashing_thread<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, AppUserError> {
        self.threads
            .run(work)
            .await
            .map_err(|refused| match refused {
                Refused::Busy => AppUserError::Busy {
                    retry_after: BUSY_RETRY_AFTER,
                },
                Refused::Failed => AppUserError::Hashing("a hashing job failed".into()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::Password;

    #[tokio::test]
    async fn a_password_verifies_against_its_hash_only() {
        let passwords = Passwords::new(1, 1).unwrap();
        let password = Password::parse("correct horse".into()).unwrap();
        let other = Password::parse("correct horsf".into()).unwrap();
        let hash = passwords.hash(&password).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            passwords
                .verify(&password, Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(!passwords.verify(&other, Some(hash)).await.unwrap());
        assert!(!passwords.verify(&password, None).await.unwrap());
    }
}
