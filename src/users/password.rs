//! Password hashing: argon2id with OWASP's parameters (19 MiB, t=2, p=1), on the blocking pool
//! behind a concurrency bound so sign-in floods cannot starve the runtime or the memory.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::Semaphore;

use super::AppUserError;

/// OWASP's argon2id minimum: m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

#[derive(Clone)]
pub struct Passwords {
    argon: Arc<Argon2<'static>>,
    permits: Arc<Semaphore>,
    /// Verified against when the account does not exist, so unknown users take as long.
    dummy_hash: Arc<str>,
}

impl Passwords {
    /// At most `concurrency` hashes at once (each holds 19 MiB).
    pub fn new(concurrency: usize) -> Result<Self, AppUserError> {
        let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
            .map_err(|e| AppUserError::Hashing(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy_hash = argon
            .hash_password(b"callsign: no such account")
            .map_err(|e| AppUserError::Hashing(e.to_string()))?
            .to_string();
        Ok(Passwords {
            argon: Arc::new(argon),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) with a fresh random salt.
    pub async fn hash(&self, password: &super::Password) -> Result<String, AppUserError> {
        let argon = self.argon.clone();
        let password = password.clone();
        self.blocking(move || {
            argon
                .hash_password(password.expose().as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|e| AppUserError::Hashing(e.to_string()))
        })
        .await?
    }

    /// Whether `password` matches `hash`; with no hash, checks against a dummy and says no.
    pub async fn verify(
        &self,
        password: &super::Password,
        hash: Option<String>,
    ) -> Result<bool, AppUserError> {
        let argon = self.argon.clone();
        let password = password.clone();
        let exists = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = self
            .blocking(move || {
                argon
                    .verify_password(password.expose().as_bytes(), hash.as_str())
                    .is_ok()
            })
            .await?;
        Ok(exists && matches)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppUserError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AppUserError::Hashing(e.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| AppUserError::Hashing(e.to_string()))
    }
}
