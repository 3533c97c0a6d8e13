//! Where password hashes are computed: a fixed set of threads, each with argon2 memory of its
//! own that it allocates once and reuses for every hash, fed by a bounded queue. Memory is then
//! `threads` × 19 MiB however many sign-ins arrive, and a job past the queue is refused at once.
//!
//! Not the runtime's blocking pool: that pool starts threads as it likes, and each new thread
//! allocating 19 MiB leaves them resident in its allocator arena (a storm of 200 sign-ins with 4
//! hashing at a time left 350 MiB resident).
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), the same the
//! `argon2` crate's `PasswordHasher` writes and its `PasswordVerifier` reads; only the memory
//! is ours.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

/// A hashing thread's argon2 memory, grown to what a hash needs and kept.
#[derive(Default)]
pub(super) struct Memory(Vec<Block>);

impl Memory {
    /// The first `params.block_count()` blocks, allocated the first time they are needed.
    fn blocks(&mut self, params: &Params) -> &mut [Block] {
        let count = params.block_count();
        if self.0.len() < count {
            self.0 = vec![Block::new(); count];
        }
        &mut self.0[..count]
    }

    /// Gives memory beyond `params`' back, after a hash with larger parameters (an old hash).
    fn shrink_to(&mut self, params: &Params) {
        if self.0.len() > params.block_count() {
            self.0.truncate(params.block_count());
            self.0.shrink_to_fit();
        }
    }
}

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// Why a job did not run.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// The queue is full.
    Busy,
    /// The job panicked, or the threads are gone.
    Failed,
}

/// The hashing threads and their queue. Cloning shares them; they stop when the last clone is
/// dropped.
#[derive(Clone)]
pub(super) struct HashingThreads {
    jobs: SyncSender<Job>,
}

impl HashingThreads {
    /// Starts `threads` threads (at least one) with a queue of `waiting` jobs; each keeps
    /// memory for `params`.
    pub(super) fn start(threads: usize, waiting: usize, params: Params) -> std::io::Result<Self> {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(waiting);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let (queue, params) = (queue.clone(), params.clone());
            std::thread::Builder::new()
                .name(format!("callsign-argon2-{n}"))
                .spawn(move || run_jobs(&queue, &params))?;
        }
        Ok(HashingThreads { jobs })
    }

    /// Runs `work` on a hashing thread and waits for its result; refused at once when the
    /// queue is full.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, Refused> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            // Nobody waits for it any more if the request ended: nothing to do then.
            let _ = done.send(work(memory));
        });
        self.jobs.try_send(job).map_err(|refused| match refused {
            TrySendError::Full(_) => Refused::Busy,
            TrySendError::Disconnected(_) => Refused::Failed,
        })?;
        result.await.map_err(|_| Refused::Failed)
    }
}

/// A hashing thread: runs jobs until every sender is gone. A job that panics only loses its
/// result (its waiter hears `Failed`); the thread goes on.
fn run_jobs(queue: &Mutex<Receiver<Job>>, params: &Params) {
    let mut memory = Memory::default();
    loop {
        let next = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else { return };
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut memory)));
        memory.shrink_to(params);
    }
}

/// A PHC string of `password` with a fresh random salt, hashed by `argon` in `memory`.
pub(super) fn hash(
    argon: &Argon2<'_>,
    memory: &mut Memory,
    password: &[u8],
) -> Result<String, String> {
    let salt = random::<{ Salt::RECOMMENDED_LENGTH }>()?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon
        .hash_password_into_with_memory(password, &salt, &mut output, memory.blocks(argon.params()))
        .map_err(|e| e.to_string())?;
    phc(argon, &salt, &output)
}

/// A PHC string under `argon`'s parameters that no password matches: a random salt and a
/// random hash. Verifying against it costs what verifying against a real one does, without
/// hashing anything to make it.
pub(super) fn decoy(argon: &Argon2<'_>) -> Result<String, String> {
    let salt = random::<{ Salt::RECOMMENDED_LENGTH }>()?;
    let output = random::<{ Params::DEFAULT_OUTPUT_LEN }>()?;
    phc(argon, &salt, &output)
}

fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(bytes)
}

fn phc(argon: &Argon2<'_>, salt: &[u8], output: &[u8]) -> Result<String, String> {
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).map_err(|e| e.to_string())?,
        salt: Some(Salt::new(salt).map_err(|e| e.to_string())?),
        hash: Some(Output::new(output).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc` (any argon2 variant, version and
/// parameters it names), hashed in `memory`; compared in constant time.
pub(super) fn verify(memory: &mut Memory, password: &[u8], phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = hash
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params);
    let mut output = vec![0u8; expected.len()];
    let hashed = argon.hash_password_into_with_memory(
        password,
        salt.as_ref(),
        &mut output,
        memory.blocks(argon.params()),
    );
    // `Output`'s equality is constant-time.
    hashed.is_ok() && Output::new(&output).is_ok_and(|computed| computed == *expected)
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHasher, PasswordVerifier};
    use futures_util::FutureExt;

    use super::*;

    fn argon() -> Argon2<'static> {
        // Small parameters: the format is under test, not the cost.
        let params = Params::new(64, 1, 1, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    #[test]
    fn a_decoy_has_the_parameters_of_a_real_hash_and_matches_no_password() {
        let argon = argon();
        let mut memory = Memory::default();
        let decoy = decoy(&argon).unwrap();
        let real = hash(&argon, &mut memory, b"").unwrap();
        let head = |phc: &str| phc.rsplitn(3, '$').last().map(str::to_owned);
        assert_eq!(head(&decoy), head(&real), "{decoy} against {real}");
        assert_ne!(decoy, super::decoy(&argon).unwrap(), "each decoy is random");
        assert!(PasswordHash::new(&decoy).is_ok());
        for password in [&b""[..], b"correct horse", b"callsign: no such account"] {
            assert!(!verify(&mut memory, password, &decoy));
        }
    }

    #[test]
    fn our_hashes_are_the_argon2_crates_and_the_other_way_round() {
        let argon = argon();
        let mut memory = Memory::default();
        let ours = hash(&argon, &mut memory, b"correct horse").unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{ours}");
        assert!(
            argon
                .verify_password(b"correct horse", ours.as_str())
                .is_ok()
        );
        assert!(
            argon
                .verify_password(b"wrong horse", ours.as_str())
                .is_err()
        );

        let theirs = argon.hash_password(b"battery staple").unwrap().to_string();
        assert!(verify(&mut memory, b"battery staple", &theirs));
        assert!(!verify(&mut memory, b"battery stapler", &theirs));
        assert!(verify(&mut memory, b"correct horse", &ours));
    }

    #[test]
    fn other_parameters_and_variants_verify_and_garbage_does_not() {
        let mut memory = Memory::default();
        let old = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(128, 2, 2, Some(16)).unwrap(),
        );
        let old_hash = old.hash_password(b"old password").unwrap().to_string();
        assert!(verify(&mut memory, b"old password", &old_hash));
        assert!(!verify(&mut memory, b"new password", &old_hash));
        memory.shrink_to(argon().params());
        assert_eq!(memory.0.len(), argon().params().block_count());
        for garbage in [
            "",
            "$argon2id$",
            "$scrypt$ln=1,r=1,p=1$c2FsdHNhbHQ$aGFzaA",
            "plain",
        ] {
            assert!(!verify(&mut memory, b"x", garbage), "{garbage}");
        }
    }

    #[tokio::test]
    async fn past_the_queue_a_job_is_refused_and_a_panic_is_survived() {
        let threads = HashingThreads::start(1, 1, argon().params().clone()).unwrap();
        // Keep the only thread busy until released (jobs are queued on their first poll, and
        // run whether or not anyone still waits for them).
        let (started, running) = std::sync::mpsc::channel();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let holding = threads.run(move |_| {
            let _ = started.send(());
            let _ = held.recv();
        });
        assert!(holding.now_or_never().is_none());
        running.recv().unwrap();
        assert!(
            threads.run(|_| 1).now_or_never().is_none(),
            "fills the queue"
        );
        assert_eq!(threads.run(|_| 2).await, Err(Refused::Busy));

        release.send(()).unwrap();
        let mut drained = threads.run(|_| 3).await;
        while drained == Err(Refused::Busy) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            drained = threads.run(|_| 3).await;
        }
        assert_eq!(drained, Ok(3));

        let panicked: Result<u8, _> = threads.run(|_| panic!("a bug in a job")).await;
        assert_eq!(panicked, Err(Refused::Failed));
        assert_eq!(threads.run(|_| 4).await, Ok(4));
    }
}
