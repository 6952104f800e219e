//! Account lockout after repeated failed logins.
//!
//! Pure state transitions: the caller loads a [`LoginState`], applies the outcome of
//! one attempt at time `now`, and stores the result in the same transaction.

use jiff::{SignedDuration, Timestamp};

/// How many failures lock an account, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub lock_for: SignedDuration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures: 5,
            lock_for: SignedDuration::from_mins(15),
        }
    }
}

/// What is stored per account about login attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoginState {
    /// Consecutive failures since the last success or lock.
    pub failed_attempts: u32,
    pub locked_until: Option<Timestamp>,
}

impl LoginState {
    /// Whether the account refuses logins at `now` (even with the right password).
    pub fn is_locked(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }

    /// The state after a wrong password at `now`. Reaching the policy's limit locks
    /// the account and starts counting afresh for when the lock expires.
    pub fn after_failure(self, policy: &LockoutPolicy, now: Timestamp) -> LoginState {
        if self.is_locked(now) {
            return self;
        }
        let failed_attempts = self.failed_attempts.saturating_add(1);
        if failed_attempts >= policy.max_failures.max(1) {
            LoginState {
                failed_attempts: 0,
                locked_until: Some(now + policy.lock_for),
            }
        } else {
            LoginState {
                failed_attempts,
                locked_until: None,
            }
        }
    }

    /// The state after a successful login.
    pub fn after_success(self) -> LoginState {
        LoginState::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_790_000_000 + secs).unwrap()
    }

    #[test]
    fn fifth_failure_locks_for_the_policy_duration() {
        let policy = LockoutPolicy::default();
        let mut state = LoginState::default();
        for i in 0..4 {
            state = state.after_failure(&policy, t(i));
            assert!(!state.is_locked(t(i)));
        }
        state = state.after_failure(&policy, t(4));
        assert!(state.is_locked(t(4)));
        assert!(state.is_locked(t(4 + 15 * 60 - 1)));
        assert!(!state.is_locked(t(4 + 15 * 60)));
    }

    #[test]
    fn failures_while_locked_do_not_extend_the_lock() {
        let policy = LockoutPolicy::default();
        let locked = LoginState {
            failed_attempts: 0,
            locked_until: Some(t(100)),
        };
        assert_eq!(locked.after_failure(&policy, t(50)), locked);
    }

    proptest! {
        /// However attempts interleave, an account is locked only after `max_failures`
        /// consecutive failures, and a success always clears the count.
        #[test]
        fn lock_needs_max_consecutive_failures(
            max in 1u32..8,
            outcomes in proptest::collection::vec(any::<bool>(), 0..40),
        ) {
            let policy = LockoutPolicy { max_failures: max, lock_for: SignedDuration::from_mins(10) };
            let mut state = LoginState::default();
            let mut run = 0u32;
            for (i, ok) in outcomes.iter().enumerate() {
                // Attempts are an hour apart, so every lock has expired by the next one.
                let now = t(i as i64 * 3600);
                prop_assert!(!state.is_locked(now));
                if *ok {
                    state = state.after_success();
                    run = 0;
                } else {
                    state = state.after_failure(&policy, now);
                    run += 1;
                    prop_assert_eq!(state.is_locked(now), run == max);
                    if run == max { run = 0; }
                }
            }
        }
    }
}
