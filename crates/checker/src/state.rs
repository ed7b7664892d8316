//! keepalived's retry state machine, sans-IO: probe results in, transitions and
//! the next delay out.
//!
//! After a failure the check is retried `retry` times, `delay_before_retry`
//! apart; only when all of those fail too does an UP server go DOWN. A pass
//! brings a DOWN server UP at once. The first verdict is always reported, so a
//! subscriber learns the state even when it did not change.

use std::time::Duration;

use crate::outcome::Outcome;
use crate::spec::Timing;

#[derive(Debug, Clone)]
pub struct CheckState {
    retry: u32,
    delay_before_retry: Duration,
    retry_it: u32,
    is_up: bool,
    has_run: bool,
    weight: Option<u32>,
}

/// When to probe next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The next regular slot (delay_loop).
    Loop,
    /// This long after now (delay_before_retry).
    Retry(Duration),
}

/// A change subscribers hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Healthy; `weight` from a dynamic script. `first` marks the first verdict.
    Up {
        weight: Option<u32>,
        first: bool,
    },
    Down {
        first: bool,
    },
    /// Still up, the dynamic weight changed; `None`: back to the configured
    /// weight (a dynamic script exited 0).
    Weight(Option<u32>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub next: Next,
    pub change: Option<Change>,
}

impl CheckState {
    pub fn new(timing: &Timing) -> Self {
        CheckState {
            retry: timing.retry,
            delay_before_retry: timing.delay_before_retry,
            retry_it: 0,
            is_up: !timing.alpha,
            has_run: false,
            weight: None,
        }
    }

    pub fn is_up(&self) -> bool {
        self.is_up
    }

    /// The weight a dynamic script last reported while up.
    pub fn weight(&self) -> Option<u32> {
        self.weight
    }

    /// Whether a verdict has been reached yet.
    pub fn has_verdict(&self) -> bool {
        self.has_run
    }

    pub fn on_result(&mut self, outcome: &Outcome) -> Step {
        let success = matches!(outcome, Outcome::Up { .. });
        let first = !self.has_run;
        let step = if success || self.retry_it >= self.retry {
            self.retry_it = 0;
            let change = match outcome {
                Outcome::Up { weight } if !self.is_up || first => {
                    self.is_up = true;
                    self.weight = *weight;
                    Some(Change::Up { weight: *weight, first })
                }
                Outcome::Up { weight } if self.weight != *weight => {
                    self.weight = *weight;
                    Some(Change::Weight(*weight))
                }
                Outcome::Up { .. } => None,
                Outcome::Down(_) if self.is_up || first => {
                    self.is_up = false;
                    Some(Change::Down { first })
                }
                Outcome::Down(_) => None,
            };
            Step { next: Next::Loop, change }
        } else {
            self.retry_it += 1;
            Step { next: Next::Retry(self.delay_before_retry), change: None }
        };
        // A failed first probe that is being retried is still "not run" for the
        // purpose of reporting the first verdict.
        self.has_run = self.has_run || step.change.is_some() || success;
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Failure;

    const UP: Outcome = Outcome::Up { weight: None };
    fn down() -> Outcome {
        Outcome::Down(Failure::Refused)
    }

    fn timing(retry: u32, alpha: bool) -> Timing {
        Timing {
            delay_loop: Duration::from_secs(6),
            connect_timeout: Duration::from_secs(3),
            retry,
            delay_before_retry: Duration::from_secs(2),
            warmup: None,
            alpha,
        }
    }

    const RETRY: Next = Next::Retry(Duration::from_secs(2));

    #[test]
    fn down_after_retry_plus_one_failures_in_a_row() {
        let mut s = CheckState::new(&timing(2, false));
        assert_eq!(s.on_result(&UP).change, Some(Change::Up { weight: None, first: true }));
        assert_eq!(s.on_result(&down()), Step { next: RETRY, change: None });
        assert_eq!(s.on_result(&down()), Step { next: RETRY, change: None });
        assert!(s.is_up());
        let step = s.on_result(&down());
        assert_eq!(step, Step { next: Next::Loop, change: Some(Change::Down { first: false }) });
        assert!(!s.is_up());
    }

    #[test]
    fn a_pass_during_retries_resets_the_count() {
        let mut s = CheckState::new(&timing(1, false));
        s.on_result(&UP);
        assert_eq!(s.on_result(&down()).next, RETRY);
        assert_eq!(s.on_result(&UP), Step { next: Next::Loop, change: None });
        assert_eq!(s.on_result(&down()).next, RETRY);
        assert_eq!(s.on_result(&down()).change, Some(Change::Down { first: false }));
    }

    #[test]
    fn one_pass_brings_a_down_server_up() {
        let mut s = CheckState::new(&timing(3, false));
        s.on_result(&UP);
        for _ in 0..4 {
            s.on_result(&down());
        }
        assert!(!s.is_up());
        assert_eq!(s.on_result(&UP).change, Some(Change::Up { weight: None, first: false }));
    }

    #[test]
    fn while_down_failures_keep_cycling_retries_without_events() {
        // keepalived keeps the retry rhythm while down: retry probes, then a loop.
        let mut s = CheckState::new(&timing(1, false));
        s.on_result(&down());
        assert_eq!(s.on_result(&down()).change, Some(Change::Down { first: true }));
        assert_eq!(s.on_result(&down()), Step { next: RETRY, change: None });
        assert_eq!(s.on_result(&down()), Step { next: Next::Loop, change: None });
    }

    #[test]
    fn retry_zero_fails_on_the_first_failure() {
        let mut s = CheckState::new(&timing(0, false));
        s.on_result(&UP);
        assert_eq!(
            s.on_result(&down()),
            Step { next: Next::Loop, change: Some(Change::Down { first: false }) }
        );
    }

    #[test]
    fn alpha_starts_down_and_reports_the_first_verdict_either_way() {
        let mut s = CheckState::new(&timing(1, true));
        assert!(!s.is_up());
        assert!(!s.has_verdict());
        assert_eq!(s.on_result(&UP).change, Some(Change::Up { weight: None, first: true }));

        let mut s = CheckState::new(&timing(1, true));
        assert_eq!(s.on_result(&down()).change, None);
        assert_eq!(s.on_result(&down()).change, Some(Change::Down { first: true }));
        assert!(s.has_verdict());
    }

    #[test]
    fn dynamic_weight_changes_are_reported_while_up() {
        let mut s = CheckState::new(&timing(0, false));
        let w = |w| Outcome::Up { weight: Some(w) };
        assert_eq!(s.on_result(&w(5)).change, Some(Change::Up { weight: Some(5), first: true }));
        assert_eq!(s.on_result(&w(5)).change, None);
        assert_eq!(s.on_result(&w(7)).change, Some(Change::Weight(Some(7))));
        assert_eq!(s.weight(), Some(7));
        // Exit 0 from a dynamic script: the configured weight again (keepalived too).
        assert_eq!(s.on_result(&UP).change, Some(Change::Weight(None)));
        assert_eq!(s.weight(), None);
        assert_eq!(s.on_result(&UP).change, None);
    }
}
