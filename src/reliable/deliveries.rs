//! The receiver's side of confirmed delivery: each sender session's lines shown once and in order, the lines held until the gap before them fills, and what to acknowledge when.
//!
//! The receiver thread hands every opened reliable line or end here, and
//! after it has written its output asks for the acknowledgements due
//! ([`Deliveries::acks`]): a line is acknowledged only once it was written,
//! so a receiver whose output blocks stops acknowledging, and its sender
//! waits. Lines taken in order are acknowledged together, every
//! [`ACK_EVERY_LINES`] lines or [`ACK_EVERY_BYTES`], and the network's
//! duplicates of them with them; anything else (a line its sender flagged
//! [`ACK_NOW`](crate::wire::format::ACK_NOW), as every resend is, a line out
//! of order, an end) makes its session's acknowledgement due at once.
//! Memory is bounded: [`MAX_SESSIONS`] sessions, [`WINDOW_LINES`] lines held
//! per session and [`MAX_HELD_BYTES`] in all.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use crate::reliable::{Ack, MAX_RANGES, WINDOW_LINES};

/// Sender sessions followed at once; a new one beyond pushes out the one
/// that moved forward least recently.
pub(crate) const MAX_SESSIONS: usize = 256;

/// Bytes of lines held (received after a gap) across all sessions.
pub(crate) const MAX_HELD_BYTES: usize = 8 << 20;

/// Lines taken in order, without [`ACK_NOW`](crate::wire::format::ACK_NOW),
/// that a session's acknowledgement may wait for: one acknowledgement per
/// written batch cost a bulk transfer a datagram each way per 8 lines
/// (examples/bench.rs). A sixteenth of the window, so its sender never
/// waits for room on this count alone.
pub(crate) const ACK_EVERY_LINES: u64 = 64;

/// The same in bytes: a sixteenth of the sender's window in bytes.
pub(crate) const ACK_EVERY_BYTES: usize = crate::reliable::WINDOW_BYTES / 16;

/// How long acknowledgements owed (not yet due) wait for more lines: a
/// receiver whose socket stays quiet this long sends them. Below the
/// sender's least retransmission timeout (30 ms), so that no line is resent
/// for want of them: a line whose sender could not tell that none would
/// follow (a skipped empty line, a full receive queue that dropped the
/// lines that asked).
pub(crate) const ACK_DELAY: std::time::Duration = std::time::Duration::from_millis(10);

/// Which acknowledgements to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Acks {
    /// Those due now.
    Due,
    /// Every one owed: the chat ends, and nothing will make them due.
    All,
}

/// A reliable datagram, opened.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Incoming<'a> {
    pub session: u64,
    /// The line's number, or for the end of input the number of lines.
    pub sequence: u64,
    /// Every line below it was acknowledged or given up by the sender.
    pub base: u64,
    /// The line; `None` for the end of input.
    pub line: Option<&'a [u8]>,
    /// Its sender asked for the acknowledgement at once.
    pub ack_now: bool,
}

/// Every session's deliveries.
#[derive(Default)]
pub(crate) struct Deliveries {
    sessions: HashMap<u64, Session>,
    held_bytes: usize,
    /// Sessions with something to acknowledge since the last acknowledgements.
    dirty: Vec<u64>,
    /// How many of them are due: their acknowledgement goes after the next write.
    due: usize,
    /// Counts events, to know which session moved least recently.
    tick: u64,
    /// Acknowledgements made so far: the next one's sequence number.
    acks_made: u64,
}

struct Session {
    /// The next line to show: every line below it was shown (or given up by the sender).
    next: u64,
    held: BTreeMap<u64, Box<[u8]>>,
    /// The number of lines, once the end of input came.
    end: Option<u64>,
    /// Where acknowledgements go: the source of the latest datagram that
    /// moved the session forward, so that a replay from elsewhere cannot
    /// send them away.
    ack_to: SocketAddr,
    /// In `Deliveries::dirty`.
    dirty: bool,
    /// Its acknowledgement goes out after the next write.
    due: bool,
    /// Lines and bytes taken in order since its last acknowledgement.
    owed_lines: u64,
    owed_bytes: usize,
    moved: u64,
}

/// What became of a reliable datagram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Taken {
    /// Lines shown for it: itself and the held lines it freed.
    pub shown: u64,
    /// A line shown already, or an end taken already: shown nothing, acknowledged again.
    pub repeat: bool,
}

impl Deliveries {
    /// Takes `incoming` from `from`: shows through `show` every line that is
    /// next in its session, holds a line that came early, and notes what to
    /// acknowledge.
    pub fn take(&mut self, incoming: Incoming<'_>, from: SocketAddr, mut show: impl FnMut(&[u8])) -> Taken {
        self.tick += 1;
        if !self.sessions.contains_key(&incoming.session) {
            if self.sessions.len() >= MAX_SESSIONS {
                self.forget_stalest();
            }
            self.sessions.insert(
                incoming.session,
                Session {
                    // A receiver that starts in the middle of a session (it
                    // restarted) begins where the sender still resends.
                    next: incoming.base,
                    held: BTreeMap::new(),
                    end: None,
                    ack_to: from,
                    dirty: false,
                    due: false,
                    owed_lines: 0,
                    owed_bytes: 0,
                    moved: self.tick,
                },
            );
        }
        let session = self.sessions.get_mut(&incoming.session).expect("inserted");
        let mut taken = Taken::default();
        let mut moved = false;
        // The common case, which may wait to be acknowledged with the next
        // lines: the next line, or a repeat, not asked for at once, in a
        // session that holds nothing. A repeat without `ACK_NOW` is the
        // network's duplicate: every resend asks.
        let in_order = incoming.line.is_some()
            && incoming.sequence <= session.next
            && incoming.base <= session.next
            && session.held.is_empty()
            && session.end.is_none();
        let quiet = in_order && !incoming.ack_now;
        if incoming.base > session.next {
            // The sender gave up the lines below its base (or an earlier
            // run of this receiver acknowledged them): show what is held
            // of them, and go on from the base.
            let below: Vec<u64> = session.held.range(..incoming.base).map(|(&n, _)| n).collect();
            for number in below {
                let line = session.held.remove(&number).expect("listed");
                self.held_bytes -= line.len();
                show(&line);
                taken.shown += 1;
            }
            session.next = incoming.base;
            moved = true;
        }
        match incoming.line {
            Some(line) => {
                let sequence = incoming.sequence;
                if sequence < session.next || session.held.contains_key(&sequence) {
                    taken.repeat = true;
                } else if sequence == session.next {
                    show(line);
                    taken.shown += 1;
                    session.next += 1;
                    moved = true;
                } else if sequence - session.next < WINDOW_LINES
                    && self.held_bytes + line.len() <= MAX_HELD_BYTES
                {
                    self.held_bytes += line.len();
                    session.held.insert(sequence, line.into());
                    moved = true;
                }
                // Else it is neither shown nor held: its sender resends it.
                // (The acknowledgement it makes due says nothing new.)
            }
            None => {
                if session.end == Some(incoming.sequence) {
                    taken.repeat = true;
                } else if incoming.sequence >= session.next {
                    session.end = Some(incoming.sequence);
                    moved = true;
                }
            }
        }
        // The lines held that are next now.
        while let Some(line) = session.held.remove(&session.next) {
            self.held_bytes -= line.len();
            show(&line);
            taken.shown += 1;
            session.next += 1;
        }
        if moved {
            session.ack_to = from;
            session.moved = self.tick;
        }
        if !session.dirty {
            session.dirty = true;
            self.dirty.push(incoming.session);
        }
        let due = if !quiet {
            true
        } else if taken.repeat {
            false
        } else {
            session.owed_lines += 1;
            session.owed_bytes += incoming.line.map_or(0, <[u8]>::len);
            session.owed_lines >= ACK_EVERY_LINES || session.owed_bytes >= ACK_EVERY_BYTES
        };
        if due && !session.due {
            session.due = true;
            self.due += 1;
        }
        taken
    }

    /// Pushes out the session that moved forward least recently, with
    /// what it held: if its sender goes on, it starts again at the base.
    fn forget_stalest(&mut self) {
        let Some((&stalest, _)) = self.sessions.iter().min_by_key(|(_, session)| session.moved) else {
            return;
        };
        if let Some(session) = self.sessions.remove(&stalest) {
            self.held_bytes -= session.held.values().map(|line| line.len()).sum::<usize>();
            if session.due {
                self.due -= 1;
            }
        }
        self.dirty.retain(|&session| session != stalest);
    }

    /// Whether an acknowledgement is due.
    pub fn has_acks(&self) -> bool {
        self.due > 0
    }

    /// Whether an acknowledgement is owed, due or not.
    pub fn owes_acks(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// The acknowledgement for each session whose acknowledgement is due
    /// (or with [`Acks::All`], owed), with where it goes and its sequence
    /// number; to be called once what was shown is written.
    pub fn acks(&mut self, which: Acks, mut send: impl FnMut(&Ack, SocketAddr, u64)) {
        let all = which == Acks::All;
        let mut ack = Ack {
            session: 0,
            next: 0,
            ended: false,
            held: Vec::new(),
        };
        let Deliveries {
            sessions,
            dirty,
            due,
            acks_made,
            ..
        } = self;
        dirty.retain(|id| {
            let Some(session) = sessions.get_mut(id) else {
                return false;
            };
            if !(session.due || all) {
                return true;
            }
            if session.due {
                *due -= 1;
            }
            session.dirty = false;
            session.due = false;
            session.owed_lines = 0;
            session.owed_bytes = 0;
            ack.session = *id;
            ack.next = session.next;
            ack.ended = session.end == Some(session.next);
            ack.held.clear();
            for &number in session.held.keys() {
                let ranges = ack.held.len();
                match ack.held.last_mut() {
                    Some((_, end)) if *end == number => *end += 1,
                    _ if ranges == MAX_RANGES => break,
                    _ => ack.held.push((number, number + 1)),
                }
            }
            send(&ack, session.ack_to, *acks_made);
            *acks_made += 1;
            false
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn line(sequence: u64, base: u64, text: &str) -> Incoming<'_> {
        Incoming {
            session: 1,
            sequence,
            base,
            line: Some(text.as_bytes()),
            ack_now: false,
        }
    }

    fn take(deliveries: &mut Deliveries, incoming: Incoming<'_>, shown: &mut Vec<String>) -> Taken {
        deliveries.take(incoming, from(9), |line| {
            shown.push(String::from_utf8(line.to_vec()).unwrap())
        })
    }

    fn acks(deliveries: &mut Deliveries) -> Vec<(Ack, SocketAddr)> {
        let mut acks = Vec::new();
        deliveries.acks(Acks::Due, |ack, to, _| acks.push((ack.clone(), to)));
        acks
    }

    #[test]
    fn shows_each_line_once_and_in_order_and_acknowledges_what_it_holds() {
        let mut deliveries = Deliveries::default();
        let mut shown = Vec::new();
        for (sequence, text) in [(0, "a"), (2, "c"), (3, "d"), (2, "c"), (1, "b"), (0, "a")] {
            take(&mut deliveries, line(sequence, 0, text), &mut shown);
            if sequence == 3 {
                let first = acks(&mut deliveries);
                assert_eq!((first[0].0.next, first[0].0.held.clone()), (1, vec![(2, 4)]));
            }
        }
        assert_eq!(shown, ["a", "b", "c", "d"]);
        let last = acks(&mut deliveries);
        assert_eq!((last[0].0.next, last[0].0.held.len()), (4, 0));
        assert!(acks(&mut deliveries).is_empty(), "nothing new");
        // A line resent is acknowledged again: its acknowledgement may have been lost.
        let resent = Incoming {
            ack_now: true,
            ..line(1, 0, "b")
        };
        assert!(take(&mut deliveries, resent, &mut shown).repeat);
        assert_eq!(acks(&mut deliveries).len(), 1);
    }

    #[test]
    fn the_end_is_acknowledged_once_every_line_before_it_was_shown() {
        let mut deliveries = Deliveries::default();
        let mut shown = Vec::new();
        take(&mut deliveries, line(1, 0, "b"), &mut shown);
        let end = Incoming {
            session: 1,
            sequence: 2,
            base: 0,
            line: None,
            ack_now: false,
        };
        deliveries.take(end, from(9), |_| {});
        assert!(!acks(&mut deliveries)[0].0.ended);
        take(&mut deliveries, line(0, 0, "a"), &mut shown);
        assert!(acks(&mut deliveries)[0].0.ended);
    }

    #[test]
    fn a_receiver_that_starts_late_begins_at_the_base_and_a_base_moved_up_skips_the_gap() {
        let mut deliveries = Deliveries::default();
        let mut shown = Vec::new();
        take(&mut deliveries, line(12, 10, "m"), &mut shown);
        assert!(shown.is_empty());
        take(&mut deliveries, line(10, 10, "k"), &mut shown);
        assert_eq!(shown, ["k"]);
        // The sender gave up 11: its base moves past it.
        take(&mut deliveries, line(13, 12, "n"), &mut shown);
        assert_eq!(shown, ["k", "m", "n"]);
    }

    #[test]
    fn acknowledgements_go_where_the_session_last_moved_forward_from() {
        let mut deliveries = Deliveries::default();
        deliveries.take(line(0, 0, "a"), from(1), |_| {});
        // A replay of line 0 (resent, so asking) from elsewhere moves nothing.
        let replay = Incoming {
            ack_now: true,
            ..line(0, 0, "a")
        };
        deliveries.take(replay, from(2), |_| {});
        assert_eq!(acks(&mut deliveries)[0].1, from(1));
        let flagged = Incoming {
            ack_now: true,
            ..line(1, 0, "b")
        };
        deliveries.take(flagged, from(3), |_| {});
        assert_eq!(acks(&mut deliveries)[0].1, from(3));
    }

    #[test]
    fn lines_in_order_are_acknowledged_together_and_a_flagged_line_at_once() {
        let mut deliveries = Deliveries::default();
        let mut shown = Vec::new();
        for sequence in 0..ACK_EVERY_LINES - 1 {
            take(&mut deliveries, line(sequence, 0, "x"), &mut shown);
            assert!(!deliveries.has_acks(), "line {sequence} waits for more");
        }
        assert!(acks(&mut deliveries).is_empty());
        take(&mut deliveries, line(ACK_EVERY_LINES - 1, 0, "x"), &mut shown);
        assert!(deliveries.has_acks());
        assert_eq!(acks(&mut deliveries)[0].0.next, ACK_EVERY_LINES);
        // The count starts again; a flagged line makes it due at once.
        take(&mut deliveries, line(ACK_EVERY_LINES, 0, "x"), &mut shown);
        assert!(!deliveries.has_acks());
        let flagged = Incoming {
            ack_now: true,
            ..line(ACK_EVERY_LINES + 1, 0, "y")
        };
        take(&mut deliveries, flagged, &mut shown);
        assert!(deliveries.has_acks());
        assert_eq!(acks(&mut deliveries)[0].0.next, ACK_EVERY_LINES + 2);
        assert_eq!(shown.len() as u64, ACK_EVERY_LINES + 2);
    }

    #[test]
    fn big_lines_are_acknowledged_by_bytes_and_the_last_acknowledgements_flush_what_is_owed() {
        let mut deliveries = Deliveries::default();
        let big = "x".repeat(60_000);
        let lines = ACK_EVERY_BYTES.div_ceil(big.len()) as u64;
        for sequence in 0..lines {
            assert!(!deliveries.has_acks());
            deliveries.take(line(sequence, 0, &big), from(9), |_| {});
        }
        assert!(deliveries.has_acks(), "{lines} lines of 60,000 bytes");
        assert_eq!(acks(&mut deliveries)[0].0.next, lines);
        deliveries.take(line(lines, 0, "z"), from(9), |_| {});
        assert!(acks(&mut deliveries).is_empty());
        let mut flushed = Vec::new();
        deliveries.acks(Acks::All, |ack, _, _| flushed.push(ack.next));
        assert_eq!(flushed, [lines + 1]);
    }

    #[test]
    fn a_line_out_of_order_a_resend_and_an_end_are_acknowledged_at_once_a_duplicate_with_the_rest() {
        let mut shown = Vec::new();
        let end = Incoming {
            line: None,
            ..line(1, 0, "")
        };
        for incoming in [line(1, 0, "b"), end] {
            let mut deliveries = Deliveries::default();
            deliveries.take(incoming, from(9), |_| {});
            assert!(deliveries.has_acks());
        }
        let mut deliveries = Deliveries::default();
        take(&mut deliveries, line(0, 0, "a"), &mut shown);
        assert!(!deliveries.has_acks());
        assert!(take(&mut deliveries, line(0, 0, "a"), &mut shown).repeat);
        assert!(!deliveries.has_acks(), "the network's duplicate");
        let resent = Incoming {
            ack_now: true,
            ..line(0, 0, "a")
        };
        assert!(take(&mut deliveries, resent, &mut shown).repeat);
        assert!(
            deliveries.has_acks(),
            "a resend: the acknowledgement may have been lost"
        );
        assert_eq!(shown, ["a"]);
    }

    #[test]
    fn memory_stays_bounded_whatever_the_senders_send() {
        let mut deliveries = Deliveries::default();
        let big = "x".repeat(60_000);
        for session in 0..(MAX_SESSIONS as u64 * 2) {
            for sequence in 1..WINDOW_LINES + 5 {
                let incoming = Incoming {
                    session,
                    sequence,
                    base: 0,
                    line: Some(big.as_bytes()),
                    ack_now: false,
                };
                deliveries.take(incoming, from(9), |_| panic!("line 0 never came"));
            }
            assert!(deliveries.sessions.len() <= MAX_SESSIONS);
            assert!(deliveries.held_bytes <= MAX_HELD_BYTES);
            let held: usize = deliveries
                .sessions
                .values()
                .map(|session| session.held.values().map(|line| line.len()).sum::<usize>())
                .sum();
            assert_eq!(held, deliveries.held_bytes);
        }
        let acks = acks(&mut deliveries);
        assert!(
            !deliveries.has_acks(),
            "the count of sessions due follows those pushed out"
        );
        assert!(acks.len() <= MAX_SESSIONS);
        assert!(acks.iter().all(|(ack, _)| ack.held.len() <= MAX_RANGES));
    }
}
