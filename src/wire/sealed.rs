//! Secured datagrams, format 1: lines sealed with XChaCha20-Poly1305, and opened, checked and put in order per sender.
//!
//! ```text
//! offset  size  field (big-endian)      authenticated  encrypted
//!      0     1  version: 1                    yes
//!      1    24  nonce, random                 yes
//!     25     8  session: random, per start    yes
//!     33     8  session start, ms since 1970  yes
//!     41     8  sequence: 0, 1, 2 ...         yes
//!     49     8  sent at, ms since 1970        yes
//!     57     1  kind: 0 a line, 1 the end     yes
//!     58     n  the line                      yes            yes
//!   58+n    16  Poly1305 tag
//! ```
//!
//! Bytes 0 to 57 are the associated data. A receiver opens nothing that does
//! not authenticate, then refuses what was sent more than [`TOLERANCE`] from
//! its own clock (so a datagram recorded earlier cannot be replayed to a
//! udpchat started later), and then what it has seen already: each sender
//! (each session) has a window of the last [`WINDOW`] sequence numbers. A
//! gap in the sequence is lines lost; a line that fills one came late.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use log::{debug, info, warn};

use crate::Secret;
use crate::summary::{Secured, count};
use crate::throttle::Throttle;
use crate::wire::opened::{Event, Opened};

/// The format's version, the first byte of every sealed datagram.
pub(crate) const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
/// Everything before the line: the associated data.
pub(crate) const HEADER_LEN: usize = 58;
const TAG_LEN: usize = 16;
/// What sealing adds to a line.
pub(crate) const OVERHEAD: usize = HEADER_LEN + TAG_LEN;

/// How far a datagram's time may be from the receiver's clock. It bounds
/// replays to a udpchat that has not seen the original (started later):
/// only those recorded within this long. Clocks on a LAN agree to well under
/// a second with NTP; a minute leaves room for hosts without it.
pub(crate) const TOLERANCE: Duration = Duration::from_secs(60);

/// Sequence numbers per sender that are remembered: a datagram older than
/// this many lines is refused, for it can no longer be told from a replay.
pub(crate) const WINDOW: u64 = 1024;

/// Senders remembered at once. Only holders of the secret can add one, so
/// this is a bound on memory, not a defence; a sender's entry goes once it
/// has been quiet for [`TOLERANCE`], when replays of it are refused by time.
const MAX_SENDERS: usize = 4096;

/// Kinds of datagram.
const KIND_LINE: u8 = 0;
const KIND_END: u8 = 1;

/// The fields of a sealed datagram's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub nonce: [u8; NONCE_LEN],
    pub session: u64,
    pub started: u64,
    pub sequence: u64,
    pub sent: u64,
    pub end: bool,
}

impl Header {
    fn write(&self, out: &mut [u8]) {
        out[0] = VERSION;
        out[1..25].copy_from_slice(&self.nonce);
        out[25..33].copy_from_slice(&self.session.to_be_bytes());
        out[33..41].copy_from_slice(&self.started.to_be_bytes());
        out[41..49].copy_from_slice(&self.sequence.to_be_bytes());
        out[49..57].copy_from_slice(&self.sent.to_be_bytes());
        out[57] = if self.end { KIND_END } else { KIND_LINE };
    }

    fn read(bytes: &[u8]) -> Option<Header> {
        let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        if bytes.len() < HEADER_LEN || bytes[0] != VERSION || bytes[57] > KIND_END {
            return None;
        }
        Some(Header {
            nonce: bytes[1..25].try_into().expect("24 bytes"),
            session: u64_at(25),
            started: u64_at(33),
            sequence: u64_at(41),
            sent: u64_at(49),
            end: bytes[57] == KIND_END,
        })
    }
}

/// Seals `line` under `header` into `out`, which it replaces: the whole datagram.
pub(crate) fn seal_into(cipher: &XChaCha20Poly1305, header: &Header, line: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.resize(HEADER_LEN + line.len(), 0);
    header.write(&mut out[..HEADER_LEN]);
    out[HEADER_LEN..].copy_from_slice(line);
    let (aad, text) = out.split_at_mut(HEADER_LEN);
    let tag = cipher
        .encrypt_inout_detached(&XNonce::from(header.nonce), aad, text.into())
        .expect("a line fits in a datagram, far below the cipher's limit");
    out.extend_from_slice(&tag);
}

/// Opens `datagram` in place: its header and line, if it authenticates.
pub(crate) fn open_in_place<'a>(
    cipher: &XChaCha20Poly1305,
    datagram: &'a mut [u8],
) -> Option<(Header, &'a [u8])> {
    if datagram.len() < OVERHEAD {
        return None;
    }
    let header = Header::read(datagram)?;
    let (rest, tag) = datagram.split_at_mut(datagram.len() - TAG_LEN);
    let tag = Tag::try_from(&tag[..]).ok()?;
    let (aad, text) = rest.split_at_mut(HEADER_LEN);
    cipher
        .decrypt_inout_detached(&XNonce::from(header.nonce), aad, text.into(), &tag)
        .ok()?;
    Some((header, text))
}

fn cipher(secret: &Secret) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(secret.key().into())
}

/// Milliseconds since 1970 by this host's clock.
fn millis(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis().try_into().unwrap_or(u64::MAX))
}

/// Nonces taken from the operating system's generator, [`NONCES_PER_FILL`]
/// at a time, so that a line costs no system call of its own for one.
struct Nonces {
    buffer: zeroize::Zeroizing<Vec<u8>>,
    used: usize,
}

const NONCES_PER_FILL: usize = 64;

impl Nonces {
    fn new() -> Nonces {
        let len = NONCE_LEN * NONCES_PER_FILL;
        Nonces {
            buffer: zeroize::Zeroizing::new(vec![0; len]),
            used: len,
        }
    }

    fn next(&mut self) -> io::Result<[u8; NONCE_LEN]> {
        if self.used == self.buffer.len() {
            getrandom::fill(&mut self.buffer).map_err(io::Error::from)?;
            self.used = 0;
        }
        let nonce = self.buffer[self.used..self.used + NONCE_LEN]
            .try_into()
            .expect("24 bytes");
        self.used += NONCE_LEN;
        Ok(nonce)
    }
}

/// The sending side: one session, numbered from 0.
pub(crate) struct Sealer {
    cipher: XChaCha20Poly1305,
    session: u64,
    started: u64,
    sequence: u64,
    nonces: Nonces,
    datagram: Vec<u8>,
}

impl Sealer {
    pub fn new(secret: &Secret) -> io::Result<Sealer> {
        Ok(Sealer {
            cipher: cipher(secret),
            session: getrandom::u64().map_err(io::Error::from)?,
            started: millis(SystemTime::now()),
            sequence: 0,
            nonces: Nonces::new(),
            datagram: Vec::new(),
        })
    }

    /// This sender's session: a receiver that sees it come back knows the
    /// datagram for its own.
    pub fn session(&self) -> u64 {
        self.session
    }

    /// The datagram for the next line; or with `end`, the one that says no
    /// line follows, so that the receiver can count lost lines up to the last.
    pub fn seal(&mut self, line: &[u8], end: bool) -> io::Result<&[u8]> {
        let header = Header {
            nonce: self.nonces.next()?,
            session: self.session,
            started: self.started,
            sequence: self.sequence,
            sent: millis(SystemTime::now()),
            end,
        };
        seal_into(&self.cipher, &header, line, &mut self.datagram);
        // A line's number is used once, sent or not: a receiver counts a
        // line that could not be sent as lost, which it is.
        self.sequence = self.sequence.saturating_add(u64::from(!end));
        Ok(&self.datagram)
    }
}

/// Why a datagram was not shown.
enum Refusal {
    /// It did not authenticate, or cannot be taken (too many senders).
    Unauthentic,
    /// It was sent this many milliseconds before now (negative: after).
    Old(i128),
    /// It is this chat's own.
    Reflected,
}

/// One sender's window of sequence numbers.
#[derive(Debug)]
struct Window {
    /// One more than the highest sequence number seen.
    next: u64,
    /// The first sequence number whose absence counts as a loss.
    counted_from: u64,
    /// Bit `i` set: sequence `next - 1 - i` has been seen.
    seen: [u64; (WINDOW / 64) as usize],
    /// The sender's last datagram's time, for forgetting it.
    last_sent: u64,
}

impl Window {
    /// A sender first heard at `sequence`. The lines before it are missing
    /// if its session started after this receiver did; else they may have
    /// been sent before anyone here listened, and are not counted.
    fn new(sequence: u64, started_after_us: bool) -> Window {
        let next = if started_after_us { 0 } else { sequence };
        Window {
            next,
            counted_from: next,
            seen: [0; (WINDOW / 64) as usize],
            last_sent: 0,
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

    /// Takes sequence number `sequence`: the event it is, and whether it is new.
    fn take(&mut self, sequence: u64) -> (Option<Event>, bool) {
        if sequence >= self.next {
            let gap = sequence - self.next;
            self.shift(gap + 1);
            self.mark(0);
            self.next = sequence + 1;
            return ((gap > 0).then_some(Event::Lost(gap)), true);
        }
        let back = self.next - 1 - sequence;
        if back >= WINDOW || self.is_seen(back) {
            return (Some(Event::Duplicated), false);
        }
        self.mark(back);
        // Below `counted_from` it was never counted lost: not "late" either.
        let late = sequence >= self.counted_from;
        (late.then_some(Event::Reordered), true)
    }
}

/// Counts not told yet, per sender address, told at most once a second.
#[derive(Debug, Default)]
struct Untold {
    lost: u64,
    duplicated: u64,
    reordered: u64,
}

/// The receiving side: every sender's window, the counts, and what to tell.
pub(crate) struct Opener {
    cipher: XChaCha20Poly1305,
    /// This chat's own sealer's session. Anyone who records one of its
    /// datagrams can send it back from the peer's address; it would open,
    /// and pass for a line of the peer's, but for this.
    own_session: Option<u64>,
    /// When this receiver started, by its clock.
    started: u64,
    senders: HashMap<u64, Window>,
    counts: Secured,
    untold: HashMap<SocketAddr, Untold>,
    /// Losses, duplicates and late lines are told on stderr at most once a second.
    telling: Throttle,
    /// Sources told about once already, bounded like the senders.
    refused_from: HashMap<SocketAddr, ()>,
}

impl Opener {
    /// An opener for a chat whose own lines leave in `own_session` (none
    /// for a chat that only receives): those are refused if they come back.
    pub fn new(secret: &Secret, own_session: Option<u64>) -> Opener {
        Opener {
            cipher: cipher(secret),
            own_session,
            started: millis(SystemTime::now()),
            senders: HashMap::new(),
            counts: Secured::default(),
            untold: HashMap::new(),
            telling: Throttle::default(),
            refused_from: HashMap::new(),
        }
    }

    /// Opens `datagram` from `from`, received at `now`.
    pub fn open<'a>(&mut self, datagram: &'a mut [u8], from: &SocketAddr, now: SystemTime) -> Opened<'a> {
        let Some((header, line)) = open_in_place(&self.cipher, datagram) else {
            self.refuse(from, Refusal::Unauthentic);
            return Opened::Refused;
        };
        if Some(header.session) == self.own_session {
            self.refuse(from, Refusal::Reflected);
            return Opened::Refused;
        }
        // The last number cannot be followed; nobody sends that many lines.
        if header.sequence == u64::MAX {
            self.refuse(from, Refusal::Unauthentic);
            return Opened::Refused;
        }
        let now_ms = millis(now);
        if now_ms.abs_diff(header.sent) > TOLERANCE.as_millis() as u64 {
            self.refuse(from, Refusal::Old(i128::from(now_ms) - i128::from(header.sent)));
            return Opened::Refused;
        }
        let Some(window) = self.window(&header, from, now_ms) else {
            self.refuse(from, Refusal::Unauthentic);
            return Opened::Refused;
        };
        window.last_sent = window.last_sent.max(header.sent);
        let (event, new) = if header.end {
            info!("{from} ended its input after {}", count(header.sequence, "line"));
            // The end says how many lines there were: any not seen are lost.
            let missing = header.sequence.saturating_sub(window.next);
            window.shift(missing);
            window.next = window.next.max(header.sequence);
            ((missing > 0).then_some(Event::Lost(missing)), false)
        } else {
            window.take(header.sequence)
        };
        if let Some(event) = event {
            self.count(event, *from);
        }
        if new {
            Opened::Line(line, event)
        } else {
            Opened::Nothing(event)
        }
    }

    /// The sender's window, made on its first datagram; `None` when too
    /// many senders are remembered.
    fn window(&mut self, header: &Header, from: &SocketAddr, now_ms: u64) -> Option<&mut Window> {
        if self.senders.len() >= MAX_SENDERS && !self.senders.contains_key(&header.session) {
            let quiet_since = now_ms.saturating_sub(TOLERANCE.as_millis() as u64);
            self.senders.retain(|_, window| window.last_sent >= quiet_since);
            if self.senders.len() >= MAX_SENDERS {
                return None;
            }
        }
        let started_after_us = header.started >= self.started;
        match self.senders.entry(header.session) {
            Entry::Occupied(entry) => Some(entry.into_mut()),
            Entry::Vacant(entry) => {
                debug!(
                    "first secured datagram from {from}, line {} of its sender",
                    header.sequence
                );
                // Lines missing before this one show as the first take's gap.
                Some(entry.insert(Window::new(header.sequence, started_after_us)))
            }
        }
    }

    fn refuse(&mut self, from: &SocketAddr, why: Refusal) {
        self.counts.datagrams_rejected += 1;
        if self.refused_from.len() < MAX_SENDERS && self.refused_from.insert(*from, ()).is_none() {
            match why {
                Refusal::Old(age) => warn!(
                    "datagram from {from} was sent {} by its clock, beyond the {} s a secured chat \
                     accepts: not shown (is one of the clocks wrong?)",
                    describe_age(age),
                    TOLERANCE.as_secs()
                ),
                Refusal::Reflected => warn!(
                    "datagram from {from} is one of this chat's own, sent back: not shown \
                     (someone on the way is replaying your lines to you)"
                ),
                Refusal::Unauthentic => warn!(
                    "datagram from {from} could not be authenticated: a different secret, or not a \
                     secured udpchat; not shown"
                ),
            }
        } else {
            debug!("rejected a datagram from {from}");
        }
    }

    fn count(&mut self, event: Event, from: SocketAddr) {
        let untold = self.untold.entry(from).or_default();
        match event {
            Event::Lost(lines) => {
                self.counts.lines_lost = self.counts.lines_lost.saturating_add(lines);
                untold.lost = untold.lost.saturating_add(lines);
            }
            Event::Duplicated => {
                self.counts.lines_duplicated += 1;
                untold.duplicated += 1;
            }
            Event::Reordered => {
                // It was counted lost when the gap showed; it was only late.
                self.counts.lines_lost = self.counts.lines_lost.saturating_sub(1);
                self.counts.lines_reordered += 1;
                untold.reordered += 1;
            }
        }
        self.tell_if_due();
    }

    /// Tells what has not been told yet, unless the last telling was less
    /// than a second ago. Reads no clock while there is nothing to tell.
    pub fn tell_if_due(&mut self) {
        if !self.untold.is_empty() && self.telling.allows(Instant::now()) {
            self.tell();
        }
    }

    /// Tells on stderr what has not been told yet.
    fn tell(&mut self) {
        for (from, untold) in self.untold.drain() {
            if untold.lost > 0 {
                warn!("{} from {from} lost", count(untold.lost, "line"));
            }
            if untold.duplicated > 0 {
                warn!(
                    "{} from {from} came twice (duplicated or replayed): not shown again",
                    count(untold.duplicated, "line")
                );
            }
            if untold.reordered > 0 {
                warn!(
                    "{} from {from} came late, out of order",
                    count(untold.reordered, "line")
                );
            }
        }
    }

    /// At the end of the chat: tells the rest, and returns the counts.
    pub fn finish(&mut self) -> Secured {
        self.tell();
        self.counts
    }
}

/// `3 min 20 s ago`, `in 2 h`: an age for a message, roughly.
fn describe_age(age_ms: i128) -> String {
    let secs = (age_ms.unsigned_abs() / 1000) as u64;
    let amount = match secs {
        0..120 => format!("{secs} s"),
        120..7200 => format!("{} min", secs / 60),
        7200..172_800 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    };
    if age_ms >= 0 {
        format!("{amount} ago")
    } else {
        format!("{amount} in the future")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> Secret {
        Secret::from_key([byte; crate::wire::secret::KEY_LEN])
    }

    #[test]
    fn the_window_tells_gaps_duplicates_and_late_lines() {
        let mut window = Window::new(0, true);
        assert_eq!(window.take(0), (None, true));
        assert_eq!(window.take(1), (None, true));
        assert_eq!(window.take(1), (Some(Event::Duplicated), false));
        assert_eq!(window.take(5), (Some(Event::Lost(3)), true));
        assert_eq!(window.take(3), (Some(Event::Reordered), true));
        assert_eq!(window.take(3), (Some(Event::Duplicated), false));
        assert_eq!(window.take(5 + WINDOW), (Some(Event::Lost(WINDOW - 1)), true));
        // Out of the window: it cannot be told from a replay.
        assert_eq!(window.take(4), (Some(Event::Duplicated), false));
        assert_eq!(window.take(6 + WINDOW), (None, true));
    }

    #[test]
    fn shifting_the_window_keeps_every_bit_in_its_place() {
        for shift in [1, 5, 63, 64, 65, 127, 128, 200, 1023] {
            let mut window = Window::new(0, true);
            for sequence in (0..300).step_by(7) {
                window.take(sequence);
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
    fn seals_and_opens_with_the_same_secret_only() {
        let (mut sealer, mut opener) = (Sealer::new(&secret(1)).unwrap(), Opener::new(&secret(1), None));
        let from = "10.0.0.1:9".parse().unwrap();
        let mut datagram = sealer.seal(b"hello", false).unwrap().to_vec();
        assert_eq!(datagram.len(), 5 + OVERHEAD);
        let copy = datagram.clone();
        assert_eq!(
            opener.open(&mut datagram, &from, SystemTime::now()),
            Opened::Line(b"hello", None)
        );
        let mut other = Opener::new(&secret(2), None);
        assert_eq!(
            other.open(&mut copy.clone(), &from, SystemTime::now()),
            Opened::Refused
        );
    }

    fn sealed(sealer: &mut Sealer, line: &[u8]) -> Vec<u8> {
        sealer.seal(line, false).unwrap().to_vec()
    }

    fn opener_and_from() -> (Opener, SocketAddr) {
        (Opener::new(&secret(1), None), "10.0.0.1:9".parse().unwrap())
    }

    /// docs/PROTOCOL.md's test vector: key 00 01 .. 1f, nonce 40 41 .. 57,
    /// session 0x0123456789abcdef, started 1795515303000, sequence 7, sent
    /// 1795515303120 (2026-11-24T10:15:03.120Z), the line "hello".
    #[test]
    fn seals_the_readme_test_vector() {
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let header = Header {
            nonce: std::array::from_fn(|i| 0x40 + i as u8),
            session: 0x0123_4567_89ab_cdef,
            started: 1_795_515_303_000,
            sequence: 7,
            sent: 1_795_515_303_120,
            end: false,
        };
        let cipher = cipher(&Secret::from_key(key));
        let mut datagram = Vec::new();
        seal_into(&cipher, &header, b"hello", &mut datagram);
        let hex: String = datagram.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, TEST_VECTOR);
        let mut copy = datagram.clone();
        assert_eq!(open_in_place(&cipher, &mut copy), Some((header, &b"hello"[..])));
    }

    /// The sealed datagram of [`seals_the_readme_test_vector`], in hex.
    const TEST_VECTOR: &str = "01404142434445464748494a4b4c4d4e4f50515253545556570123456789abcdef000001a20d0d44580000000000000007000001a20d0d44d000bc5c691cbf5d6f62de5403231774499cebe1ea0b72";

    #[test]
    fn refuses_every_datagram_changed_by_one_bit_or_cut_short() {
        let mut sealer = Sealer::new(&secret(1)).unwrap();
        let datagram = sealed(&mut sealer, b"pay 10 euros to alice");
        for bit in 0..datagram.len() * 8 {
            let (mut opener, from) = opener_and_from();
            let mut changed = datagram.clone();
            changed[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                opener.open(&mut changed, &from, SystemTime::now()),
                Opened::Refused,
                "bit {bit}"
            );
        }
        for len in 0..datagram.len() {
            let (mut opener, from) = opener_and_from();
            let mut cut = datagram[..len].to_vec();
            assert_eq!(
                opener.open(&mut cut, &from, SystemTime::now()),
                Opened::Refused,
                "{len} bytes"
            );
        }
        let (mut opener, from) = opener_and_from();
        let mut plain = b"pay 10 euros to mallory".to_vec();
        assert_eq!(opener.open(&mut plain, &from, SystemTime::now()), Opened::Refused);
        assert_eq!(opener.finish().datagrams_rejected, 1);
    }

    #[test]
    fn refuses_a_datagram_sent_beyond_the_tolerance_either_way() {
        let mut sealer = Sealer::new(&secret(1)).unwrap();
        let datagram = sealed(&mut sealer, b"an old line");
        let sent = SystemTime::now();
        for (offset, shown) in [(59, true), (61, false)] {
            for later in [true, false] {
                let (mut opener, from) = opener_and_from();
                let at = if later {
                    sent + Duration::from_secs(offset)
                } else {
                    sent - Duration::from_secs(offset)
                };
                let mut copy = datagram.clone();
                let refused = opener.open(&mut copy, &from, at) == Opened::Refused;
                assert_eq!(!refused, shown, "{offset} s, later: {later}");
            }
        }
    }

    #[test]
    fn shows_a_replayed_datagram_once_and_counts_the_replay() {
        let mut sealer = Sealer::new(&secret(1)).unwrap();
        let (mut opener, from) = opener_and_from();
        let datagram = sealed(&mut sealer, b"once");
        let now = SystemTime::now();
        assert_eq!(
            opener.open(&mut datagram.clone(), &from, now),
            Opened::Line(b"once", None)
        );
        for _ in 0..3 {
            let mut copy = datagram.clone();
            assert_eq!(
                opener.open(&mut copy, &from, now),
                Opened::Nothing(Some(Event::Duplicated))
            );
        }
        assert_eq!(opener.finish().lines_duplicated, 3);
    }

    #[test]
    fn counts_lines_lost_in_gaps_and_at_the_end_and_late_ones_as_reordered() {
        let mut sealer = Sealer::new(&secret(1)).unwrap();
        let (mut opener, from) = opener_and_from();
        let now = SystemTime::now();
        let lines: Vec<Vec<u8>> = (0..10)
            .map(|i| sealed(&mut sealer, format!("{i}").as_bytes()))
            .collect();
        let end = sealer.seal(&[], true).unwrap().to_vec();
        // 0 1 _ _ 4 3 _ _ _ _ end: 2 and 5..=9 lost, 3 late.
        for i in [0, 1, 4, 3] {
            opener.open(&mut lines[i].clone(), &from, now);
        }
        assert_eq!(
            opener.open(&mut end.clone(), &from, now),
            Opened::Nothing(Some(Event::Lost(5)))
        );
        let counts = opener.finish();
        assert_eq!(
            (counts.lines_lost, counts.lines_reordered, counts.lines_duplicated),
            (6, 1, 0)
        );
    }

    #[test]
    fn counts_the_lines_missed_before_the_first_only_if_its_sender_started_after_the_receiver() {
        let now = SystemTime::now();
        let mut before = Sealer::new(&secret(1)).unwrap();
        before.started = 0;
        let skipped: Vec<Vec<u8>> = (0..3)
            .map(|i| sealed(&mut before, format!("{i}").as_bytes()))
            .collect();
        let (mut opener, from) = opener_and_from();
        let third = sealed(&mut before, b"3");
        assert_eq!(
            opener.open(&mut third.clone(), &from, now),
            Opened::Line(b"3", None)
        );
        // A line from before this receiver listened is shown, but was never "lost".
        assert_eq!(
            opener.open(&mut skipped[1].clone(), &from, now),
            Opened::Line(b"1", None)
        );
        let mut after = Sealer::new(&secret(1)).unwrap();
        after.started = u64::MAX;
        let _lost = sealed(&mut after, b"0");
        assert_eq!(
            opener.open(&mut sealed(&mut after, b"1"), &from, now),
            Opened::Line(b"1", Some(Event::Lost(1)))
        );
        assert_eq!(opener.finish().lines_lost, 1);
    }

    proptest::proptest! {
        #[test]
        fn any_line_opens_to_itself(line in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
            let mut sealer = Sealer::new(&secret(3)).unwrap();
            let (mut opener, from) = (Opener::new(&secret(3), None), "10.0.0.1:9".parse().unwrap());
            let mut datagram = sealed(&mut sealer, &line);
            proptest::prop_assert_eq!(datagram.len(), line.len() + OVERHEAD);
            proptest::prop_assert_eq!(opener.open(&mut datagram, &from, SystemTime::now()), Opened::Line(&line, None));
        }
    }

    #[test]
    fn refuses_its_own_lines_sent_back_to_it() {
        let mut sealer = Sealer::new(&secret(1)).unwrap();
        let mut opener = Opener::new(&secret(1), Some(sealer.session()));
        let from = "10.0.0.2:9".parse().unwrap();
        let mut mine = sealed(&mut sealer, b"transfer 100 to mallory");
        assert_eq!(opener.open(&mut mine, &from, SystemTime::now()), Opened::Refused);
        let mut theirs = sealed(&mut Sealer::new(&secret(1)).unwrap(), b"from the peer");
        assert_eq!(
            opener.open(&mut theirs, &from, SystemTime::now()),
            Opened::Line(b"from the peer", None)
        );
        assert_eq!(opener.finish().datagrams_rejected, 1);
    }

    #[test]
    fn refuses_the_last_sequence_number_instead_of_overflowing() {
        let mut sealer = Sealer::new(&secret(1)).unwrap();
        let (mut opener, from) = opener_and_from();
        for sequence in [u64::MAX - 1, u64::MAX] {
            sealer.sequence = sequence;
            let mut datagram = sealed(&mut sealer, b"far ahead");
            opener.open(&mut datagram, &from, SystemTime::now());
        }
        let counts = opener.finish();
        assert_eq!(counts.datagrams_rejected, 1);
    }
}
