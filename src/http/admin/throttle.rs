//! Sign-in throttling, in memory: failures are counted per account *and* per client address (a
//! flood from many addresses still stops at the account, a spray over many accounts still stops at
//! the address), and a browser holding a valid device cookie (see [`super::device`]) is counted
//! only under that cookie, so a stranger's flood cannot lock out an admin who signed in before.
//!
//! An attempt is *reserved* before the password is hashed and settled after: the in-flight
//! attempts count like failures, so 200 concurrent guesses cannot all slip past a check that would
//! only see them once they have failed. After [`Throttle::FREE`] failures, each further attempt
//! waits, [`Throttle::FIRST_WAIT`] doubling up to [`Throttle::MAX_WAIT`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a failure is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// An account name (lower-cased; capped, since it is unauthenticated input).
    Account(String),
    /// A client address.
    Address(IpAddr),
    /// A device cookie's id: a browser that signed in to its account before.
    Device(String),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    in_flight: u32,
    last: Instant,
}

/// Failed and in-flight sign-ins per [`Key`].
#[derive(Debug, Default)]
pub struct Throttle {
    map: Mutex<HashMap<Key, Entry>>,
}

/// Entries kept before old ones are swept; past it (after a sweep) new accounts and addresses
/// are refused until entries age out, so a spray cannot grow the table without end.
pub const MAX_ENTRIES: usize = 10_000;

impl Throttle {
    /// Failures (and in-flight attempts) allowed before waiting starts.
    pub const FREE: u32 = 5;
    /// How long failures are remembered.
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);
    /// The first wait, doubled by every further failure.
    pub const FIRST_WAIT: Duration = Duration::from_secs(5);
    /// Longest wait.
    pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);

    fn wait(attempts: u32) -> Duration {
        let extra = attempts.saturating_sub(Self::FREE).min(16);
        Self::FIRST_WAIT
            .saturating_mul(2u32.saturating_pow(extra))
            .min(Self::MAX_WAIT)
    }

    /// Reserve one attempt against every key, or say how many seconds the longest wait has left.
    /// The reservation counts as a failure until [`Attempt::succeeded`] (dropping it unsettled,
    /// e.g. when the client goes away mid-check, counts it as failed).
    pub fn reserve(&self, keys: Vec<Key>) -> Result<Attempt<'_>, u64> {
        let Ok(mut map) = self.map.lock() else {
            return Err(Self::MAX_WAIT.as_secs());
        };
        let now = Instant::now();
        let mut wait_left = Duration::ZERO;
        for key in &keys {
            let Some(e) = map.get(key) else { continue };
            let remembered = e.in_flight > 0 || now.duration_since(e.last) < Self::WINDOW;
            let attempts = if remembered {
                e.failures + e.in_flight
            } else {
                0
            };
            if attempts >= Self::FREE {
                let wait = Self::wait(attempts);
                let elapsed = now.duration_since(e.last);
                if elapsed < wait {
                    wait_left = wait_left.max(wait - elapsed);
                }
            }
        }
        if !wait_left.is_zero() {
            return Err(wait_left.as_secs().max(1));
        }
        let new_keys = keys.iter().filter(|k| !map.contains_key(k)).count();
        if map.len() + new_keys > MAX_ENTRIES {
            map.retain(|_, e| e.in_flight > 0 || now.duration_since(e.last) < Self::WINDOW);
            // Device cookies are signed: they never come from a spray, so they always get a slot.
            let untrusted = keys
                .iter()
                .any(|k| !matches!(k, Key::Device(_)) && !map.contains_key(k));
            if map.len() + new_keys > MAX_ENTRIES && untrusted {
                return Err(Self::FIRST_WAIT.as_secs());
            }
        }
        for key in &keys {
            let e = map.entry(key.clone()).or_insert(Entry {
                failures: 0,
                in_flight: 0,
                last: now,
            });
            if e.in_flight == 0 && now.duration_since(e.last) >= Self::WINDOW {
                e.failures = 0;
            }
            e.in_flight += 1;
            e.last = now;
        }
        Ok(Attempt {
            throttle: self,
            keys,
            settled: false,
        })
    }

    fn settle(&self, keys: &[Key], ok: bool) {
        let Ok(mut map) = self.map.lock() else { return };
        for key in keys {
            if let Some(e) = map.get_mut(key) {
                e.in_flight = e.in_flight.saturating_sub(1);
                if ok {
                    e.failures = 0;
                } else {
                    e.failures = e.failures.saturating_add(1);
                    e.last = Instant::now();
                }
                if e.failures == 0 && e.in_flight == 0 {
                    map.remove(key);
                }
            }
        }
    }

    /// Entries kept (for tests of the bound).
    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A reserved sign-in attempt; settle it with [`Attempt::succeeded`] or [`Attempt::failed`].
#[derive(Debug)]
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    keys: Vec<Key>,
    settled: bool,
}

impl Attempt<'_> {
    /// The password was right: forget the failures of these keys.
    pub fn succeeded(mut self) {
        self.settled = true;
        self.throttle.settle(&self.keys, true);
    }

    /// The password was wrong: count a failure against every key.
    pub fn failed(mut self) {
        self.settled = true;
        self.throttle.settle(&self.keys, false);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.throttle.settle(&self.keys, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(account: &str, addr: &str) -> Vec<Key> {
        vec![
            Key::Account(account.into()),
            Key::Address(addr.parse().unwrap()),
        ]
    }

    #[test]
    fn waiting_starts_after_the_free_failures_per_account_and_per_address() {
        let t = Throttle::default();
        for _ in 0..Throttle::FREE {
            t.reserve(keys("admin", "10.0.0.1")).unwrap().failed();
        }
        // The same address with another account, and the same account from another address.
        assert!(t.reserve(keys("ops", "10.0.0.1")).is_err());
        assert!(t.reserve(keys("admin", "10.0.0.2")).is_err());
        // Neither shared: fine.
        t.reserve(keys("ops", "10.0.0.2")).unwrap().succeeded();
        // A device cookie is counted on its own.
        t.reserve(vec![Key::Device("d1".into())])
            .unwrap()
            .succeeded();
    }

    #[test]
    fn in_flight_attempts_count_before_they_fail() {
        let t = Throttle::default();
        let held: Vec<_> = (0..Throttle::FREE)
            .map(|_| t.reserve(keys("admin", "10.0.0.1")).unwrap())
            .collect();
        assert!(t.reserve(keys("admin", "10.0.0.1")).is_err());
        drop(held); // unsettled: counted as failures
        let wait = t.reserve(keys("admin", "10.0.0.1")).unwrap_err();
        assert!(
            (1..=Throttle::FIRST_WAIT.as_secs()).contains(&wait),
            "{wait}"
        );
    }

    #[test]
    fn waits_grow_and_success_forgets() {
        assert_eq!(Throttle::wait(Throttle::FREE), Throttle::FIRST_WAIT);
        assert_eq!(Throttle::wait(Throttle::FREE + 1), Throttle::FIRST_WAIT * 2);
        assert_eq!(Throttle::wait(Throttle::FREE + 40), Throttle::MAX_WAIT);
        let t = Throttle::default();
        for _ in 0..Throttle::FREE - 1 {
            t.reserve(keys("admin", "10.0.0.1")).unwrap().failed();
        }
        t.reserve(keys("admin", "10.0.0.1")).unwrap().succeeded();
        assert!(t.is_empty());
    }

    #[test]
    fn the_table_is_bounded_but_device_cookies_still_get_in() {
        let t = Throttle::default();
        for i in 0..u32::try_from(MAX_ENTRIES).unwrap() {
            let a = t.reserve(vec![Key::Address(IpAddr::from(i.to_be_bytes()))]);
            a.unwrap().failed();
        }
        assert_eq!(t.len(), MAX_ENTRIES);
        assert!(t.reserve(keys("someone", "192.0.2.1")).is_err());
        assert!(t.reserve(vec![Key::Device("d".into())]).is_ok());
        assert!(t.len() <= MAX_ENTRIES + 1);
    }
}
