//! Who may have a password checked now: the sign-in throttles and the rule that lets an
//! account's owner past the lock guessers put on it.
//!
//! Three throttles count failed sign-ins ([`Throttle`]): an account from one client address
//! (from the 5th failure), a client address (from the 20th) and an account from anywhere (from
//! the 50th, so a guess spread over many addresses stays bounded). The account-wide lock must
//! not keep the owner out, and must not become a free pass either. While it holds, a password is
//! still checked:
//!
//! - from an address the account signed in from (within [`KNOWN_FOR`], as this instance
//!   remembers) that is not locked itself: the owner, also after a typo;
//! - from any other address with no recent failure on the account, but only
//!   [`CHECKS_PAST_THE_LOCK`] wrong guesses of them per account until they too lock: so guessers
//!   with many addresses get a handful of guesses more per lock, not one per address, and an
//!   owner on a new network gets in unless they have used those up.
//!
//! Everything else is refused without a check, and counts against nothing (nothing was tried):
//! what to refuse is decided before any throttle counts the attempt.

use std::net::IpAddr;
use std::time::Duration;

use moka::sync::Cache;

use super::Throttle;
use crate::clock::SharedClock;
use crate::rate_limit::client_key;

const FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS: u32 = 5;
const FREE_FAILURES_PER_ACCOUNT: u32 = 50;
const FREE_FAILURES_PER_ADDRESS: u32 = 20;
/// Wrong guesses from addresses new to an account checked while it is locked, before those
/// lock too (and then double like any throttle).
pub const CHECKS_PAST_THE_LOCK: u32 = 10;
/// How long an address an account signed in from counts as its owner's.
pub const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Account-and-address pairs remembered as known; the least recently used go first.
const MAX_KNOWN: u64 = 1_000_000;

pub struct Lockout {
    per_pair: Throttle,
    per_account: Throttle,
    per_address: Throttle,
    /// Wrong guesses checked past an account's lock from addresses new to it.
    past_the_lock: Throttle,
    /// `"<address> <account>"` pairs that signed in.
    known: Cache<String, ()>,
}

/// A sign-in let through to its password check; settle it with [`Lockout::succeeded`],
/// [`Lockout::failed`] or [`Lockout::unchecked`].
pub struct Attempt {
    pair: String,
    account: String,
    address: String,
    past_the_lock: Option<PastTheLock>,
}

/// How an attempt came past the account-wide lock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PastTheLock {
    /// From an address the account signed in from.
    Known,
    /// From a new address, within the account's allowance.
    New,
}

impl Lockout {
    pub fn new(clock: SharedClock) -> Self {
        Lockout {
            per_pair: Throttle::new(FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS, clock.clone()),
            per_account: Throttle::new(FREE_FAILURES_PER_ACCOUNT, clock.clone()),
            per_address: Throttle::new(FREE_FAILURES_PER_ADDRESS, clock.clone()),
            past_the_lock: Throttle::new(CHECKS_PAST_THE_LOCK, clock),
            known: Cache::builder()
                .max_capacity(MAX_KNOWN)
                .time_to_live(KNOWN_FOR)
                .build(),
        }
    }

    /// Lets a sign-in to `account` from `client` through to its password check (counted as a
    /// failure until settled), or `Err(retry_after)`. What to refuse is decided before anything
    /// is counted, so a refusal counts against nothing; the counting itself re-checks each
    /// throttle atomically, so concurrent guesses cannot slip past together.
    pub fn admit(&self, account: &str, client: IpAddr) -> Result<Attempt, Duration> {
        let address = client_key(client).to_string();
        let pair = format!("{address} {account}");
        let pair_failures = self.per_pair.peek(&pair)?;
        self.per_address.peek(&address)?;
        let past_the_lock = match self.per_account.peek(account) {
            Ok(_) => None,
            Err(_) if self.known.contains_key(&pair) => Some(PastTheLock::Known),
            Err(locked) => {
                if pair_failures > 0 || self.past_the_lock.peek(account).is_err() {
                    return Err(locked);
                }
                Some(PastTheLock::New)
            }
        };
        self.per_pair.attempt(&pair)?;
        if let Err(locked) = self.per_address.attempt(&address) {
            self.per_pair.forgive(&pair);
            return Err(locked);
        }
        let counted = match past_the_lock {
            None => self.per_account.attempt(account).map(drop),
            Some(PastTheLock::New) => self.past_the_lock.attempt(account).map(drop),
            Some(PastTheLock::Known) => Ok(()),
        };
        if let Err(locked) = counted {
            self.per_pair.forgive(&pair);
            self.per_address.forgive(&address);
            return Err(locked);
        }
        Ok(Attempt {
            pair,
            account: account.to_owned(),
            address,
            past_the_lock,
        })
    }

    /// The password was right: the attempt is forgiven, and its address is the owner's.
    pub fn succeeded(&self, attempt: Attempt) {
        self.per_pair.clear(&attempt.pair);
        self.known.insert(attempt.pair.clone(), ());
        self.unchecked(attempt);
    }

    /// Nothing was checked after all (hashing was busy): the attempt is taken back.
    pub fn unchecked(&self, attempt: Attempt) {
        self.per_pair.forgive(&attempt.pair);
        self.per_address.forgive(&attempt.address);
        match attempt.past_the_lock {
            None => self.per_account.forgive(&attempt.account),
            Some(PastTheLock::New) => self.past_the_lock.forgive(&attempt.account),
            Some(PastTheLock::Known) => {}
        }
    }

    /// The password was wrong (the attempt stays counted). Past the account's lock, the lock
    /// grows and the answer is that lock: `Some(retry_after)`.
    pub fn failed(&self, attempt: Attempt) -> Option<Duration> {
        attempt
            .past_the_lock
            .map(|_| self.per_account.fail(&attempt.account))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::MockClock;

    fn lockout() -> Lockout {
        let clock = Arc::new(MockClock::new(time::macros::datetime!(2026-01-01 0:00 UTC)));
        Lockout::new(clock)
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000_u32 + n))
    }

    /// Wrong guesses from ten addresses, five each, until the account is locked.
    fn lock(lockout: &Lockout) {
        for n in 0..50 {
            match lockout.admit("owner", ip(1000 + n / 5)) {
                Ok(attempt) => assert_eq!(lockout.failed(attempt), None),
                Err(_) => break,
            }
        }
        let attempt = lockout.admit("owner", ip(2000)).expect("one past the lock");
        assert!(lockout.failed(attempt).is_some(), "and answered as locked");
    }

    #[test]
    fn the_owners_address_passes_the_lock_and_new_ones_only_a_few_times() {
        let lockout = lockout();
        let owner = ip(1);
        lockout.succeeded(lockout.admit("owner", owner).unwrap());
        lock(&lockout);
        // One new address was checked past the lock above; nine more are.
        for n in 1..CHECKS_PAST_THE_LOCK {
            let attempt = lockout.admit("owner", ip(2000 + n)).expect("checked");
            assert!(lockout.failed(attempt).is_some());
        }
        assert!(lockout.admit("owner", ip(3000)).is_err(), "allowance spent");
        // The owner's address is still checked, after a typo too.
        let typo = lockout.admit("owner", owner).expect("the owner's address");
        assert!(lockout.failed(typo).is_some());
        lockout.succeeded(lockout.admit("owner", owner).expect("the owner's address"));
        // Other accounts are untouched.
        lockout.succeeded(lockout.admit("someone", ip(3000)).unwrap());
    }

    #[test]
    fn a_refusal_without_a_check_does_not_count_against_the_address() {
        let lockout = lockout();
        let guesser = ip(5000);
        let wrong = lockout.admit("owner", guesser).unwrap();
        assert_eq!(lockout.failed(wrong), None);
        lock(&lockout);
        // An address that guessed wrong is refused while the account is locked ...
        for _ in 0..100 {
            assert!(lockout.admit("owner", guesser).is_err());
        }
        // ... and those refusals, checking nothing, did not lock it for other accounts.
        lockout.succeeded(lockout.admit("other", guesser).expect("not locked"));
    }
}
