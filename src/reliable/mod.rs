//! Confirmed delivery (`--reliable`): the acknowledgement's layout, the limits both sides keep, and the two halves (the sender's outbox, the receiver's in-order deliveries).
//!
//! Nothing here seals or sends: the wire (`src/wire/`) turns these values
//! into sealed datagrams of kinds 2, 3 and 4, the sender thread and its
//! resend thread (`src/send/`) send them, and the receiver thread applies
//! acknowledgements to the [`Outbox`] and hands reliable lines to
//! [`Deliveries`]. docs/PROTOCOL.md, "Reliable delivery", is the contract.

// A build without `secure` has no secret, so never sends reliably: only
// the types of the public API are used there.
#![cfg_attr(not(feature = "secure"), allow(dead_code, unused_imports))]

pub(crate) mod deliveries;
pub(crate) mod outbox;

use std::time::Duration;

pub(crate) use deliveries::Deliveries;
pub(crate) use outbox::Outbox;

/// Lines a sender keeps in flight to one peer, at most: sent and not yet
/// acknowledged. It is also how far ahead of its `base` a reliable line may
/// be numbered, and so how many lines a receiver holds for a session.
pub(crate) const WINDOW_LINES: u64 = 1024;

/// Bytes of lines a sender keeps in flight to one peer, at most.
pub(crate) const WINDOW_BYTES: usize = 4 << 20;

/// Ranges of held lines an acknowledgement names, at most.
pub(crate) const MAX_RANGES: usize = 32;

/// The bytes a reliable line's body carries before the line: `behind`, how
/// far below its number the sender's base is (at most [`WINDOW_LINES`]), a
/// big-endian u16. Two bytes, not the base's eight: a 60-byte line with
/// eight more takes one more 64-byte ChaCha20 block to seal and to open.
pub(crate) const BEHIND_LEN: usize = 2;

/// Confirmed delivery, as a chat is asked for it
/// ([`Config::reliable`](crate::Config::reliable)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reliable {
    /// How long a peer may acknowledge nothing new, while lines wait for
    /// it, before those lines are given up as not delivered (and the peer
    /// with them). Between [`Reliable::MIN_GIVE_UP`] and
    /// [`Reliable::MAX_GIVE_UP`].
    pub give_up: Duration,
    /// Whether a peer given up gets the next lines all the same (at a
    /// terminal: each typed line is a fresh chance). Without it (piped
    /// input) a peer given up stays so: its later lines count as not
    /// delivered without being sent, and when every peer is given up the
    /// chat stops reading input.
    pub keep_trying: bool,
}

impl Reliable {
    /// The default time to give up: 30 s.
    pub const DEFAULT_GIVE_UP: Duration = Duration::from_secs(30);
    /// The shortest time to give up: a few retransmissions on a LAN.
    pub const MIN_GIVE_UP: Duration = Duration::from_millis(100);
    /// The longest time to give up: a year (longer is taken as this).
    pub const MAX_GIVE_UP: Duration = Duration::from_secs(365 * 24 * 3600);
    /// The `log` target of the notices about delivery (a line pending, not
    /// delivered, or every line delivered after all), logged as warnings.
    /// They are part of the chat, not diagnostics: a front end that shows
    /// the chat may show them with it, whatever its log level and wherever
    /// its log goes (udpchat's line editor does).
    pub const NOTICE_TARGET: &'static str = "udpchat::delivery";

    /// Gives up after 30 s, and for good.
    pub fn new() -> Reliable {
        Reliable {
            give_up: Reliable::DEFAULT_GIVE_UP,
            keep_trying: false,
        }
    }

    /// The same, giving up after `give_up` (kept between the bounds).
    pub fn giving_up_after(self, give_up: Duration) -> Reliable {
        Reliable {
            give_up: give_up.clamp(Reliable::MIN_GIVE_UP, Reliable::MAX_GIVE_UP),
            ..self
        }
    }

    /// The same, giving a peer given up the next lines all the same.
    pub fn keeping_trying(self, keep_trying: bool) -> Reliable {
        Reliable { keep_trying, ..self }
    }
}

impl Default for Reliable {
    fn default() -> Self {
        Reliable::new()
    }
}

/// What an acknowledgement says: the body of a kind-2 datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ack {
    /// The session whose lines are acknowledged.
    pub session: u64,
    /// Every line numbered below it has been written to the receiver's output.
    pub next: u64,
    /// The end of input has been taken too: the sender's last line is `next - 1`.
    pub ended: bool,
    /// Lines held above `next`, received and not yet written: first
    /// inclusive, end exclusive, ascending, not touching.
    pub held: Vec<(u64, u64)>,
}

/// Bytes of an acknowledgement before its ranges.
const ACK_FIXED: usize = 18;

impl Ack {
    /// The body, as docs/PROTOCOL.md lays it out.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.session.to_be_bytes());
        out.extend_from_slice(&self.next.to_be_bytes());
        out.push(u8::from(self.ended));
        let held = &self.held[..self.held.len().min(MAX_RANGES)];
        out.push(held.len() as u8);
        for &(first, end) in held {
            out.extend_from_slice(&first.to_be_bytes());
            out.extend_from_slice(&end.to_be_bytes());
        }
    }

    /// The acknowledgement `body` holds, if it is well formed: its length
    /// matches its count of ranges, at most [`MAX_RANGES`], each range
    /// non-empty, above `next` and above the one before it.
    pub fn decode(body: &[u8]) -> Option<Ack> {
        let u64_at = |at: usize| u64::from_be_bytes(body[at..at + 8].try_into().expect("8 bytes"));
        if body.len() < ACK_FIXED {
            return None;
        }
        let ranges = usize::from(body[17]);
        if ranges > MAX_RANGES || body.len() != ACK_FIXED + 16 * ranges {
            return None;
        }
        let next = u64_at(8);
        let mut held = Vec::with_capacity(ranges);
        let mut floor = next;
        for i in 0..ranges {
            let (first, end) = (u64_at(ACK_FIXED + 16 * i), u64_at(ACK_FIXED + 16 * i + 8));
            if first <= floor || end <= first {
                return None;
            }
            held.push((first, end));
            floor = end;
        }
        Some(Ack {
            session: u64_at(0),
            next,
            ended: body[16] & 1 != 0,
            held,
        })
    }
}

/// Adds `number` to ascending `ranges`, joining it to the last when it follows it.
pub(crate) fn push_number(ranges: &mut Vec<std::ops::RangeInclusive<u64>>, number: u64) {
    match ranges.last_mut() {
        Some(last) if *last.end() + 1 == number => *last = *last.start()..=number,
        Some(last) if last.contains(&number) => {}
        _ => ranges.push(number..=number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ack_reads_back_as_written_and_a_malformed_one_does_not_read() {
        let ack = Ack {
            session: 0x0123_4567_89ab_cdef,
            next: 5,
            ended: false,
            held: vec![(7, 8), (10, 12)],
        };
        let mut body = Vec::new();
        ack.encode(&mut body);
        assert_eq!(body.len(), 18 + 32);
        assert_eq!(Ack::decode(&body), Some(ack.clone()));
        assert_eq!(Ack::decode(&body[..body.len() - 1]), None, "cut short");
        let mut overlapping = ack.clone();
        overlapping.held = vec![(7, 9), (8, 12)];
        overlapping.encode(&mut body);
        assert_eq!(Ack::decode(&body), None);
        let mut below = ack.clone();
        below.held = vec![(5, 6)];
        below.encode(&mut body);
        assert_eq!(Ack::decode(&body), None, "a held line is above next");
        let mut empty = ack;
        empty.held = vec![(7, 7)];
        empty.encode(&mut body);
        assert_eq!(Ack::decode(&body), None);
        let mut many = vec![0; 18 + 16 * 33];
        many[17] = 33;
        assert_eq!(Ack::decode(&many), None);
    }

    #[test]
    fn numbers_become_ranges() {
        let mut ranges = Vec::new();
        for n in [2, 5, 6, 7, 9] {
            push_number(&mut ranges, n);
        }
        assert_eq!(ranges, vec![2..=2, 5..=7, 9..=9]);
    }

    #[test]
    fn give_up_is_kept_between_its_bounds() {
        let reliable = Reliable::new();
        assert_eq!(
            reliable.giving_up_after(Duration::ZERO).give_up,
            Reliable::MIN_GIVE_UP
        );
        assert_eq!(
            reliable.giving_up_after(Duration::MAX).give_up,
            Reliable::MAX_GIVE_UP
        );
    }
}
