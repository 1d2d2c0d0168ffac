//! One sender session's window of sequence numbers: which lines came, which are missing, which came twice or late; and what is too far ahead to believe.

use std::time::{Duration, Instant};

use crate::wire::opened::Event;

/// Sequence numbers per session that are remembered: a datagram older than
/// this many lines is not shown, for it can no longer be told from a replay.
pub(crate) const WINDOW: u64 = 1024;

/// The fastest a session is believed to send: a million lines a second,
/// several times what udpchat sends on loopback. A sequence number further
/// ahead than this rate allows is implausible.
const MAX_LINES_PER_MS: u64 = 1000;

/// Lines believed on top of the rate, whatever the time: bursts, and
/// clocks that count in milliseconds.
const SLACK_LINES: u64 = 1 << 16;

/// The lines a sender can have sent in `elapsed`, at the most believed.
pub(crate) fn believable(elapsed: Duration) -> u64 {
    let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    ms.saturating_mul(MAX_LINES_PER_MS).saturating_add(SLACK_LINES)
}

/// A sequence number further ahead than a chat could have gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Implausible;

/// One sender session's window.
#[derive(Debug)]
pub(crate) struct Window {
    /// One more than the highest sequence number seen.
    next: u64,
    /// The first sequence number whose absence counts as a loss.
    counted_from: u64,
    /// Bit `i` set: sequence `next - 1 - i` has been seen.
    seen: [u64; (WINDOW / 64) as usize],
    /// The sequence number the session was first heard at, and when (by
    /// this receiver's clock): the session cannot have gone further since
    /// than [`believable`] in that time (plus the clock tolerance, the
    /// longest a datagram can have waited on the way and still be taken).
    first: u64,
    first_heard: Instant,
    slack: Duration,
    /// Whether the session's end of input has come.
    ended: bool,
}

impl Window {
    /// A session first heard at `sequence`, at `now`. With `count_before`,
    /// the lines before it are missing (the session started after this
    /// receiver began to listen); else they may have been sent before
    /// anyone here listened, and are not counted. `slack` is how long a
    /// datagram may have waited on the way.
    pub fn new(sequence: u64, count_before: bool, now: Instant, slack: Duration) -> Window {
        let next = if count_before { 0 } else { sequence };
        Window {
            next,
            counted_from: next,
            seen: [0; (WINDOW / 64) as usize],
            first: sequence,
            first_heard: now,
            slack,
            ended: false,
        }
    }

    fn is_seen(&self, back: u64) -> bool {
        self.seen[(back / 64) as usize] & (1 << (back % 64)) != 0
    }

    fn mark(&mut self, back: u64) {
        self.seen[(back / 64) as usize] |= 1 << (back % 64);
    }

    /// Moves the window up by `by` sequence numbers.
    fn shift(&mut self, by: u64) {
        if by >= WINDOW {
            self.seen = [0; (WINDOW / 64) as usize];
            return;
        }
        let (words, bits) = ((by / 64) as usize, (by % 64) as u32);
        let len = self.seen.len();
        for i in (0..len).rev() {
            let low = i.checked_sub(words).map_or(0, |j| self.seen[j]);
            let carry = match i.checked_sub(words + 1) {
                Some(j) if bits > 0 => self.seen[j] >> (64 - bits),
                _ => 0,
            };
            self.seen[i] = if bits > 0 { (low << bits) | carry } else { low };
        }
    }

    /// Whether the session can have reached `sequence` by `now`.
    fn check(&self, sequence: u64, now: Instant) -> Result<(), Implausible> {
        let elapsed = now.saturating_duration_since(self.first_heard) + self.slack;
        if sequence.saturating_sub(self.first) > believable(elapsed) {
            return Err(Implausible);
        }
        Ok(())
    }

    /// Takes line `sequence`, at `now`: the event it is, and whether it is
    /// new (to be shown). A line too far ahead is refused and changes nothing.
    pub fn take(&mut self, sequence: u64, now: Instant) -> Result<(Option<Event>, bool), Implausible> {
        if sequence >= self.next {
            self.check(sequence, now)?;
            let gap = sequence - self.next;
            self.shift(gap + 1);
            self.mark(0);
            self.next = sequence + 1;
            return Ok(((gap > 0).then_some(Event::Lost(gap)), true));
        }
        let back = self.next - 1 - sequence;
        if back >= WINDOW || self.is_seen(back) {
            return Ok((Some(Event::Duplicated), false));
        }
        self.mark(back);
        // Below `counted_from` it was never counted lost: not "late" either.
        let late = sequence >= self.counted_from;
        Ok((late.then_some(Event::Late), true))
    }

    /// The session's input ended after `lines` lines: any not seen are
    /// lost. Also says whether this is the first end the session sent (a
    /// repeated one, or a replay, is nothing new).
    pub fn end(&mut self, lines: u64, now: Instant) -> Result<(Option<Event>, bool), Implausible> {
        self.check(lines, now)?;
        let missing = lines.saturating_sub(self.next);
        self.shift(missing);
        self.next = self.next.max(lines);
        let first = !std::mem::replace(&mut self.ended, true);
        Ok(((missing > 0).then_some(Event::Lost(missing)), first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> (Window, Instant) {
        let now = Instant::now();
        (Window::new(0, true, now, Duration::ZERO), now)
    }

    #[test]
    fn the_window_tells_gaps_duplicates_and_late_lines() {
        let (mut window, now) = window();
        let mut take = |sequence| window.take(sequence, now).unwrap();
        assert_eq!(take(0), (None, true));
        assert_eq!(take(1), (None, true));
        assert_eq!(take(1), (Some(Event::Duplicated), false));
        assert_eq!(take(5), (Some(Event::Lost(3)), true));
        assert_eq!(take(3), (Some(Event::Late), true));
        assert_eq!(take(3), (Some(Event::Duplicated), false));
        assert_eq!(take(5 + WINDOW), (Some(Event::Lost(WINDOW - 1)), true));
        // Out of the window: it cannot be told from a replay.
        assert_eq!(take(4), (Some(Event::Duplicated), false));
        assert_eq!(take(6 + WINDOW), (None, true));
    }

    #[test]
    fn the_window_is_the_last_1024_numbers_up_to_the_highest_seen() {
        // docs/PROTOCOL.md's example: with 2,000 the highest, 977 is in
        // the window and 976 is not.
        let (mut window, now) = window();
        window.take(2000, now).unwrap();
        assert_eq!(
            window.take(2000 - (WINDOW - 1), now),
            Ok((Some(Event::Late), true))
        );
        assert_eq!(
            window.take(2000 - WINDOW, now),
            Ok((Some(Event::Duplicated), false))
        );
    }

    #[test]
    fn shifting_the_window_keeps_every_bit_in_its_place() {
        for shift in [1, 5, 63, 64, 65, 127, 128, 200, 1023] {
            let (mut window, now) = window();
            for sequence in (0..300).step_by(7) {
                window.take(sequence, now).unwrap();
            }
            let before: Vec<bool> = (0..WINDOW).map(|back| window.is_seen(back)).collect();
            window.shift(shift);
            for back in 0..WINDOW {
                let expected = back >= shift && before[(back - shift) as usize];
                assert_eq!(window.is_seen(back), expected, "shift {shift}, back {back}");
            }
        }
    }

    #[test]
    fn a_jump_no_chat_could_make_is_refused_and_moves_nothing() {
        let (mut window, now) = window();
        window.take(0, now).unwrap();
        let far = believable(Duration::ZERO) + 1;
        assert_eq!(window.take(far, now), Err(Implausible));
        assert_eq!(window.take(u64::MAX - 1, now), Err(Implausible));
        assert!(window.end(far, now).is_err());
        // Nothing moved: the next line is no loss, and the far one is
        // believed once the time to send it has passed.
        assert_eq!(window.take(1, now), Ok((None, true)));
        let later = now + Duration::from_secs(1);
        assert_eq!(window.take(far, later), Ok((Some(Event::Lost(far - 2)), true)));
    }

    #[test]
    fn the_end_counts_the_lines_missing_up_to_it_and_late_ones_are_taken_back() {
        let (mut window, now) = window();
        window.take(0, now).unwrap();
        assert_eq!(window.end(3, now), Ok((Some(Event::Lost(2)), true)));
        assert_eq!(window.take(2, now), Ok((Some(Event::Late), true)));
        assert_eq!(
            window.end(3, now),
            Ok((None, false)),
            "a repeated end is nothing new"
        );
    }

    #[test]
    fn lines_before_the_first_are_not_late_when_they_were_never_counted() {
        let now = Instant::now();
        let mut window = Window::new(10, false, now, Duration::ZERO);
        assert_eq!(window.take(10, now), Ok((None, true)));
        assert_eq!(window.take(9, now), Ok((None, true)));
        let mut counted = Window::new(10, true, now, Duration::ZERO);
        assert_eq!(counted.take(10, now), Ok((Some(Event::Lost(10)), true)));
        assert_eq!(counted.take(9, now), Ok((Some(Event::Late), true)));
    }
}
