//! Login lockout after repeated failures, as the firmware's 401 page
//! announces ("... or user account temporarily locked.").
//!
//! After `threshold` failed logins within `window`, every login — even a
//! correct one — is refused for `duration`. A successful login clears the
//! failures. Attempts made while locked do not extend the lock, so the
//! real administrator gets back in at a predictable time.
//!
//! Only wrong credentials count (a response that does not match, an unknown
//! user); a missing header, a stale or unknown nonce or a malformed header
//! are protocol noise from honest clients and do not. The caller decides
//! which errors to feed in.
//!
//! Pure logic: the caller passes the (monotonic) time.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::limits::ServerLimits;

/// The lockout numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub threshold: u32,
    pub window: Duration,
    pub duration: Duration,
}

impl From<&ServerLimits> for LockoutPolicy {
    fn from(l: &ServerLimits) -> Self {
        LockoutPolicy {
            threshold: l.lockout_threshold,
            window: l.lockout_window,
            duration: l.lockout_duration,
        }
    }
}

/// Failure history and lock state of one device.
#[derive(Debug)]
pub struct Lockout {
    policy: LockoutPolicy,
    /// Times of recent failures, oldest first; never longer than the
    /// threshold, so memory stays bounded whatever an attacker sends.
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

impl Lockout {
    pub fn new(policy: LockoutPolicy) -> Self {
        Lockout {
            policy,
            failures: VecDeque::new(),
            locked_until: None,
        }
    }

    /// Whether logins are refused at `now`.
    pub fn is_locked(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }

    /// Records a failed login. Returns true if this failure locked the
    /// device.
    pub fn record_failure(&mut self, now: Instant) -> bool {
        if self.policy.threshold == 0 || self.is_locked(now) {
            return false;
        }
        while self
            .failures
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= self.policy.window)
        {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
        if self.failures.len() >= self.policy.threshold as usize {
            self.failures.clear();
            self.locked_until = Some(now + self.policy.duration);
            return true;
        }
        false
    }

    /// Records a successful login: the failure count starts again.
    pub fn record_success(&mut self) {
        self.failures.clear();
    }

    /// Failures counted towards the next lock.
    pub fn recent_failures(&self) -> usize {
        self.failures.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn policy() -> LockoutPolicy {
        LockoutPolicy {
            threshold: 3,
            window: 10 * S,
            duration: 5 * S,
        }
    }

    #[test]
    fn locks_after_threshold_failures_and_unlocks_after_duration() {
        let t0 = Instant::now();
        let mut l = Lockout::new(policy());
        assert!(!l.record_failure(t0));
        assert!(!l.record_failure(t0 + S));
        assert!(!l.is_locked(t0 + S));
        assert!(l.record_failure(t0 + 2 * S));
        assert!(l.is_locked(t0 + 2 * S));
        assert!(l.is_locked(t0 + 6 * S));
        assert!(!l.is_locked(t0 + 7 * S));
        // A fresh start after the lock: one failure does not re-lock.
        assert!(!l.record_failure(t0 + 7 * S));
        assert!(!l.is_locked(t0 + 7 * S));
    }

    #[test]
    fn failures_outside_the_window_are_forgotten() {
        let t0 = Instant::now();
        let mut l = Lockout::new(policy());
        l.record_failure(t0);
        l.record_failure(t0 + S);
        // The first two fall out of the 10 s window.
        assert!(!l.record_failure(t0 + 11 * S));
        assert_eq!(l.recent_failures(), 1);
        assert!(!l.record_failure(t0 + 12 * S));
        assert!(l.record_failure(t0 + 13 * S));
    }

    #[test]
    fn success_resets_the_count() {
        let t0 = Instant::now();
        let mut l = Lockout::new(policy());
        l.record_failure(t0);
        l.record_failure(t0);
        l.record_success();
        assert!(!l.record_failure(t0));
        assert!(!l.record_failure(t0));
        assert!(!l.is_locked(t0));
    }

    #[test]
    fn failures_while_locked_do_not_extend_the_lock() {
        let t0 = Instant::now();
        let mut l = Lockout::new(policy());
        for _ in 0..3 {
            l.record_failure(t0);
        }
        for i in 0..100 {
            assert!(!l.record_failure(t0 + Duration::from_millis(40 * i)));
        }
        assert!(!l.is_locked(t0 + 5 * S));
        assert_eq!(l.recent_failures(), 0);
    }

    #[test]
    fn history_stays_bounded() {
        let t0 = Instant::now();
        let mut l = Lockout::new(LockoutPolicy {
            threshold: 1000,
            window: Duration::from_millis(1),
            duration: S,
        });
        for i in 0..10_000u64 {
            l.record_failure(t0 + Duration::from_millis(i));
        }
        assert!(l.recent_failures() <= 2);
    }

    #[test]
    fn zero_threshold_disables_lockout() {
        let t0 = Instant::now();
        let mut l = Lockout::new(LockoutPolicy {
            threshold: 0,
            ..policy()
        });
        for _ in 0..50 {
            assert!(!l.record_failure(t0));
        }
        assert!(!l.is_locked(t0));
    }
}
