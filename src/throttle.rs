//! At most so many tellings a second: the one clock behind every warning that a flood must not turn into a flood.
//!
//! Some things are told on stderr as they happen and can happen thousands of
//! times a second: datagrams the kernel dropped, lines not sent, a secured
//! chat's lost lines, strangers' datagrams, received lines the terminal had
//! no room for. Each is told at once, then at most so often; the caller
//! keeps what it held back and tells it with the next telling, or at the end.
//!
//! A [`Throttle`] only keeps time. It is asked when something happens, so it
//! never wakes anyone up, and callers ask it only when they have something
//! to tell, so that a datagram with nothing to tell costs no clock read.
//!
//! The binary's terminal uses it too, through `#[path]`: it is too small and
//! too plain to be part of the library's API, and the binary cannot see
//! anything crate-private. So this file must use nothing but `std`.

use std::time::{Duration, Instant};

/// The window a [`Throttle`]'s budget is counted in.
const WINDOW: Duration = Duration::from_secs(1);

/// Allows at most so many tellings per second: the first at once, and a
/// new second's budget once a second has passed since the window began.
/// The default allows one a second, the pace of every warning udpchat repeats.
#[derive(Clone, Debug)]
pub(crate) struct Throttle {
    /// Tellings allowed per window.
    budget: u32,
    /// When the current window began: at the first telling after the last
    /// window ran out, so a quiet spell never adds up to a burst.
    window_start: Option<Instant>,
    /// Tellings allowed in the current window.
    spent: u32,
}

impl Throttle {
    /// A throttle that allows `budget` tellings a second.
    pub const fn per_second(budget: u32) -> Throttle {
        Throttle {
            budget,
            window_start: None,
            spent: 0,
        }
    }

    /// Whether something may be told at `now`, which the caller reads from
    /// the clock only once it has something to tell; if so, it counts as told.
    pub fn allows(&mut self, now: Instant) -> bool {
        let expired = self
            .window_start
            .is_none_or(|start| now.saturating_duration_since(start) >= WINDOW);
        if expired {
            self.window_start = Some(now);
            self.spent = 0;
        }
        let allowed = self.spent < self.budget;
        self.spent += u32::from(allowed);
        allowed
    }
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle::per_second(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_one_at_once_then_one_a_second() {
        let mut throttle = Throttle::default();
        let start = Instant::now();
        assert!(throttle.allows(start));
        assert!(!throttle.allows(start + Duration::from_millis(500)));
        assert!(!throttle.allows(start + Duration::from_millis(999)));
        assert!(throttle.allows(start + Duration::from_millis(1000)));
        // The next window starts with that telling, not on a fixed grid.
        assert!(!throttle.allows(start + Duration::from_millis(1999)));
        assert!(throttle.allows(start + Duration::from_millis(5000)));
    }

    #[test]
    fn spends_a_larger_budget_within_the_window_and_refills_it_after() {
        let mut throttle = Throttle::per_second(3);
        let start = Instant::now();
        let allowed: Vec<bool> = (0..5).map(|_| throttle.allows(start)).collect();
        assert_eq!(allowed, [true, true, true, false, false]);
        assert!(throttle.allows(start + WINDOW));
    }

    #[test]
    fn a_clock_that_seems_to_go_back_does_not_open_a_new_window() {
        let mut throttle = Throttle::default();
        let start = Instant::now() + Duration::from_secs(10);
        assert!(throttle.allows(start));
        assert!(!throttle.allows(start - Duration::from_secs(5)));
    }
}
