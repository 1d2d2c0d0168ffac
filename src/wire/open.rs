//! The receiving side of a secured chat: every rule a sealed datagram must pass before its line is shown, in the order they apply, and the counts.
//!
//! In order (docs/PROTOCOL.md states each rule once): the datagram must be
//! of this version and authenticate; not be of this run's own session; be
//! sent to this chat (`to`, see `addressed.rs`); be sent within
//! [`TOLERANCE`] of this receiver's clock; be of a kind this udpchat knows
//! (else it is ignored and counted); carry a sequence number no chat could
//! not have reached; and be new to its session's window.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use chacha20poly1305::XChaCha20Poly1305;
use log::{debug, info};

use std::net::UdpSocket;
use std::sync::Arc;

use crate::Secret;
use crate::reliable::deliveries::{Acks, Incoming, Taken};
use crate::reliable::outbox::Acked;
use crate::reliable::{Ack, BEHIND_LEN, Deliveries, Outbox, WINDOW_LINES};
use crate::summary::{Secured, count};
use crate::throttle::Throttle;
use crate::wire::addressed::{Addressed, Recipient};
use crate::wire::format::{ACK_NOW, Foreign, Header, Kind, MAX_SEQUENCE};
use crate::wire::opened::{Event, Opened};
use crate::wire::sealed::{NotOpened, Sealer, cipher, millis, open_in_place};
use crate::wire::sessions::{MAX_SESSIONS, Sessions};
use crate::wire::telling::{LINES_PER_SECOND, Refusal, Telling};
use crate::wire::window::{Implausible, Window, believable};

/// How far a datagram's time may be from the receiver's clock. It bounds
/// replays to a udpchat that has not seen the original (started later, or
/// that forgot the session): only those recorded within this long. Clocks
/// on a LAN agree to well under a second with NTP; a minute leaves room
/// for hosts without it.
pub(crate) const TOLERANCE: Duration = Duration::from_secs(60);

/// The receiving side: every sender's window, the counts, and what to tell.
pub(crate) struct Opener {
    cipher: XChaCha20Poly1305,
    /// This chat's own sealer's session: its datagrams, should they come
    /// back in this run, are refused whatever their `to`.
    own_session: Option<u64>,
    recipient: Recipient,
    /// Since when this receiver has known every session it is told about:
    /// its start, or the last time it forgot one for a full table. A
    /// session that began later (by its own clock's elapsed time) had all
    /// its lines heard by this receiver, or lost.
    knows_all_since: Instant,
    sessions: Sessions,
    counts: Secured,
    telling: Telling,
    /// The budget of `-v` lines about senders' ends of input.
    ends_told: Throttle,
    /// Reliable lines from every sender, shown in order, and what to acknowledge.
    deliveries: Deliveries,
    /// Seals the acknowledgements, in this chat's own session.
    acker: Option<Sealer>,
    /// This chat's own lines in flight, when it sends reliably: the
    /// acknowledgements are for it.
    outbox: Option<Arc<Outbox>>,
    /// The budget of warnings about acknowledgements refused.
    acks_told: Throttle,
    /// An acknowledgement's body, encoded.
    ack_body: Vec<u8>,
}

impl Opener {
    /// An opener for a chat whose datagrams are sent to `recipient`, and
    /// whose own lines leave in `own_session` (none for a chat that only
    /// receives).
    pub fn new(secret: &Secret, own_session: Option<u64>, recipient: Recipient) -> Opener {
        Opener {
            cipher: cipher(secret),
            own_session,
            recipient,
            knows_all_since: Instant::now(),
            sessions: Sessions::new(MAX_SESSIONS),
            counts: Secured::default(),
            telling: Telling::new(),
            ends_told: Throttle::per_second(LINES_PER_SECOND),
            deliveries: Deliveries::default(),
            acker: None,
            outbox: None,
            acks_told: Throttle::per_second(1),
            ack_body: Vec::new(),
        }
    }

    /// Acknowledges reliable lines with datagrams sealed by `acker` (a
    /// twin of the chat's sealer), and applies the acknowledgements that
    /// come to `outbox`, if this chat sends reliably.
    pub fn acknowledging(mut self, acker: Sealer, outbox: Option<Arc<Outbox>>) -> Opener {
        self.acker = Some(acker);
        self.outbox = outbox;
        self
    }

    /// Opens `datagram` from `from`, received at `now`.
    pub fn open<'a>(&mut self, datagram: &'a mut [u8], from: &SocketAddr, now: SystemTime) -> Opened<'a> {
        let (header, body) = match open_in_place(&self.cipher, datagram) {
            Ok(opened) => opened,
            Err(not_opened) => {
                let refusal = match not_opened {
                    NotOpened::Foreign(Foreign::Plain) => Refusal::Plain,
                    NotOpened::Foreign(Foreign::Version(version)) => Refusal::Version(version),
                    NotOpened::Foreign(Foreign::CutShort) => Refusal::CutShort,
                    NotOpened::Unauthentic => Refusal::Unauthentic,
                };
                return self.refuse(from, refusal);
            }
        };
        if Some(header.session) == self.own_session {
            return self.refuse(from, Refusal::Reflected);
        }
        match self.recipient.judge(&header.to, Instant::now) {
            Addressed::Here => {}
            Addressed::Reflected => return self.refuse(from, Refusal::Reflected),
            Addressed::Elsewhere => return self.refuse(from, Refusal::Elsewhere(header.to)),
        }
        let now_ms = millis(now);
        if now_ms.abs_diff(header.sent) > TOLERANCE.as_millis() as u64 {
            let age = i128::from(now_ms) - i128::from(header.sent);
            return self.refuse(from, Refusal::Clock(age));
        }
        if !header.kind.is_known() {
            self.counts.datagrams_of_unknown_kind += 1;
            self.telling.refused(from, Refusal::UnknownKind(header.kind.0));
            return Opened::Nothing(None);
        }
        let line = header.kind == Kind::LINE;
        // A line's number is below the limit; an end's, the count, at most it.
        if header.sequence > MAX_SEQUENCE || (line && header.sequence == MAX_SEQUENCE) {
            return self.refuse(from, Refusal::Implausible(header.sequence));
        }
        match header.kind {
            Kind::ACK => return self.ack(&header, body, from),
            Kind::RELIABLE_LINE | Kind::RELIABLE_END => return self.reliable(&header, body, from),
            _ => {}
        }
        let arrived = Instant::now();
        let knows_all_since = self.knows_all_since;
        let (window, forgot) = self.sessions.heard(header.session, || {
            first_window(&header, from, arrived, knows_all_since)
        });
        let taken = if line {
            window.take(header.sequence, arrived)
        } else {
            window.end(header.sequence, arrived)
        };
        if forgot {
            self.knows_all_since = arrived;
        }
        let (event, new) = match taken {
            Ok(taken) => taken,
            Err(Implausible) => return self.refuse(from, Refusal::Implausible(header.sequence)),
        };
        if !line && new {
            self.ended(from, header.sequence);
        }
        if let Some(event) = event {
            self.count(event, from);
        }
        if line && new {
            Opened::Line(body, event)
        } else {
            Opened::Nothing(event)
        }
    }

    /// A reliable line or end: how far behind it its sender's base is
    /// must be within the sender's window, and not below line 0.
    fn reliable<'a>(&mut self, header: &Header, body: &'a mut [u8], from: &SocketAddr) -> Opened<'a> {
        let line = header.kind == Kind::RELIABLE_LINE;
        let body: &'a [u8] = body;
        let Some((behind, rest)) = body.split_first_chunk::<BEHIND_LEN>() else {
            return self.refuse(from, Refusal::Implausible(header.sequence));
        };
        let behind = u64::from(u16::from_be_bytes(*behind));
        let window = if line { WINDOW_LINES - 1 } else { WINDOW_LINES };
        let base = header.sequence.checked_sub(behind);
        let Some(base) = base.filter(|_| behind <= window) else {
            return self.refuse(from, Refusal::Implausible(header.sequence));
        };
        if line && header.sequence == MAX_SEQUENCE {
            return self.refuse(from, Refusal::Implausible(header.sequence));
        }
        Opened::Reliable(Incoming {
            session: header.session,
            sequence: header.sequence,
            base,
            line: line.then_some(rest),
            ack_now: header.flags & ACK_NOW != 0,
        })
    }

    /// Shows `incoming` from `from` in its session's order, through `show`.
    pub fn deliver(&mut self, incoming: Incoming<'_>, from: &SocketAddr, show: impl FnMut(&[u8])) -> Taken {
        let taken = self.deliveries.take(incoming, *from, show);
        if taken.repeat {
            self.counts.lines_duplicated += 1;
        }
        taken
    }

    /// An acknowledgement: well formed, and for this chat's own lines in
    /// flight, or refused.
    fn ack<'a>(&mut self, header: &Header, body: &[u8], from: &SocketAddr) -> Opened<'a> {
        let Some(ack) = Ack::decode(body) else {
            return self.refuse(from, Refusal::Implausible(header.sequence));
        };
        let Some(outbox) = &self.outbox else {
            debug!("{from} acknowledged lines this chat did not send reliably: ignored");
            return Opened::Nothing(None);
        };
        match outbox.acknowledged(from, &ack) {
            Acked::Taken => {}
            Acked::OtherSession => debug!("{from} acknowledged lines of another session: ignored"),
            Acked::Refused => {
                if self.acks_told.allows(Instant::now()) {
                    log::warn!(
                        "refused an acknowledgement from {from}: it is not a peer, or it acknowledges \
                         lines never sent (up to line {} of {})",
                        ack.next,
                        outbox.lines_numbered()
                    );
                }
            }
        }
        Opened::Nothing(None)
    }

    /// The receiver thread writes its output, or has written it: this
    /// chat's own outbox takes no acknowledgement meanwhile (see
    /// [`Outbox::writing`]).
    pub fn writing(&self, writing: bool) {
        if let Some(outbox) = &self.outbox {
            outbox.writing(writing);
        }
    }

    /// Whether acknowledgements are due.
    pub fn has_acks(&self) -> bool {
        self.deliveries.has_acks()
    }

    /// Whether acknowledgements are owed, due or not.
    pub fn owes_acks(&self) -> bool {
        self.deliveries.owes_acks()
    }

    /// Sends the acknowledgements due (or owed), through `socket`: called
    /// once what was shown is written.
    pub fn send_acks(&mut self, socket: &UdpSocket, which: Acks) {
        if which == Acks::Due && !self.deliveries.has_acks() {
            return;
        }
        let Opener {
            deliveries,
            acker,
            ack_body,
            ..
        } = self;
        let Some(acker) = acker else {
            return;
        };
        deliveries.acks(which, |ack, to, sequence| {
            ack.encode(ack_body);
            match acker.seal(Kind::ACK, sequence, ack_body, &to) {
                Ok(datagram) => {
                    if let Err(err) = socket.send_to(datagram, to) {
                        debug!("an acknowledgement to {to} was not sent: {err}");
                    }
                }
                Err(err) => debug!("an acknowledgement to {to} was not sealed: {err}"),
            }
        });
    }

    /// A sender's first end of input, after `lines` lines: told at `-v`, a
    /// few a second at most (a holder of the secret can end as many
    /// sessions as it likes), the rest at `-vv`.
    fn ended(&mut self, from: &SocketAddr, lines: u64) {
        if !log::log_enabled!(log::Level::Info) {
            return;
        }
        let lines = count(lines, "line");
        if self.ends_told.allows(Instant::now()) {
            info!("{from} ended its input after {lines}");
        } else {
            debug!("{from} ended its input after {lines}");
        }
    }

    fn refuse<'a>(&mut self, from: &SocketAddr, refusal: Refusal) -> Opened<'a> {
        self.counts.datagrams_rejected += 1;
        self.telling.refused(from, refusal);
        Opened::Refused
    }

    fn count(&mut self, event: Event, from: &SocketAddr) {
        let counts = &mut self.counts;
        match event {
            Event::Lost(lines) => counts.lines_lost = counts.lines_lost.saturating_add(lines),
            Event::Duplicated => counts.lines_duplicated += 1,
            Event::Late => {
                // It was counted lost when the gap showed; it was only late.
                counts.lines_lost = counts.lines_lost.saturating_sub(1);
                counts.lines_reordered += 1;
            }
        }
        self.telling.line_event(from, event);
    }

    /// Tells what has not been told yet, as far as the budget allows.
    /// Reads no clock while there is nothing to tell.
    pub fn tell_if_due(&mut self) {
        self.telling.tell_if_due();
    }

    /// At the end of the chat: tells the rest, and returns the counts.
    pub fn finish(&mut self) -> Secured {
        self.telling.tell_all();
        self.counts
    }
}

/// The window of a session first heard in `header`, from `from`, at `now`.
///
/// The lines before this one count as lost only if the session began after
/// this receiver knew every session: the sender's own elapsed time (sent at
/// minus session start, both by its clock) is shorter than the receiver's
/// since then (by its clock). No two clocks are compared. And only as many
/// as the sender can have sent in its elapsed time: a first datagram that
/// claims more is shown, without counting what came before it.
fn first_window(header: &Header, from: &SocketAddr, now: Instant, knows_all_since: Instant) -> Window {
    debug!(
        "first secured datagram from {from}, line {} of its sender",
        header.sequence
    );
    let sender_elapsed = header.sent.checked_sub(header.started).map(Duration::from_millis);
    let count_before = sender_elapsed.is_some_and(|elapsed| {
        elapsed < now.saturating_duration_since(knows_all_since) && header.sequence <= believable(elapsed)
    });
    Window::new(header.sequence, count_before, now, TOLERANCE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::sealed::Sealer;

    fn secret(byte: u8) -> Secret {
        Secret::from_key([byte; crate::wire::secret::KEY_LEN])
    }

    fn to() -> SocketAddr {
        "10.0.0.5:2323".parse().unwrap()
    }

    fn from() -> SocketAddr {
        "10.0.0.1:9".parse().unwrap()
    }

    fn opener() -> Opener {
        Opener::new(&secret(1), None, Recipient::Anywhere)
    }

    fn sealed(sealer: &mut Sealer, line: &[u8]) -> Vec<u8> {
        let number = sealer.next_line();
        sealer.seal(Kind::LINE, number, line, &to()).unwrap().to_vec()
    }

    /// A datagram sealed with key 1 with these header fields.
    fn crafted(kind: Kind, session: u64, started: u64, sequence: u64, sent: u64, body: &[u8]) -> Vec<u8> {
        let header = Header {
            kind,
            flags: 0,
            nonce: [7; 24],
            session,
            started,
            sequence,
            sent,
            to: to(),
        };
        let mut out = Vec::new();
        crate::wire::sealed::seal_into(&cipher(&secret(1)), &header, body, &mut out);
        out
    }

    fn open(opener: &mut Opener, datagram: &[u8]) -> Opened<'static> {
        let datagram = Box::leak(datagram.to_vec().into_boxed_slice());
        opener.open(datagram, &from(), SystemTime::now())
    }

    #[test]
    fn seals_and_opens_with_the_same_secret_only() {
        let mut sealer = Sealer::new(&secret(1)).unwrap();
        let datagram = sealed(&mut sealer, b"hello");
        assert_eq!(open(&mut opener(), &datagram), Opened::Line(b"hello", None));
        let mut other = Opener::new(&secret(2), None, Recipient::Anywhere);
        assert_eq!(open(&mut other, &datagram), Opened::Refused);
        assert_eq!(other.finish().datagrams_rejected, 1);
    }

    #[test]
    fn refuses_a_datagram_sent_beyond_the_tolerance_either_way() {
        let mut sealer = Sealer::new(&secret(1)).unwrap();
        let datagram = sealed(&mut sealer, b"an old line");
        let sent = SystemTime::now();
        for (offset, shown) in [(59, true), (61, false)] {
            for later in [true, false] {
                let at = if later {
                    sent + Duration::from_secs(offset)
                } else {
                    sent - Duration::from_secs(offset)
                };
                let refused = opener().open(&mut datagram.clone(), &from(), at) == Opened::Refused;
                assert_eq!(!refused, shown, "{offset} s, later: {later}");
            }
        }
    }

    #[test]
    fn takes_a_datagram_sent_exactly_60_000_ms_off_and_refuses_one_ms_more() {
        let at = SystemTime::now();
        let now = millis(at);
        for (off, shown) in [(60_000, true), (60_001, false)] {
            for sent in [now - off, now + off] {
                let mut datagram = crafted(Kind::LINE, sent, now - 100_000, 0, sent, b"edge");
                let refused = opener().open(&mut datagram, &from(), at) == Opened::Refused;
                assert_eq!(!refused, shown, "{off} ms, sent {sent}");
            }
        }
    }

    #[test]
    fn a_sender_whose_sent_at_is_before_its_session_start_counts_nothing_before() {
        let now = millis(SystemTime::now());
        let mut opener = opener();
        let backwards = crafted(Kind::LINE, 1, now + 5_000, 3, now, b"3");
        assert_eq!(open(&mut opener, &backwards), Opened::Line(b"3", None));
        assert_eq!(opener.finish().lines_lost, 0);
    }

    #[test]
    fn shows_a_replayed_datagram_once_and_counts_the_replay() {
        let mut sealer = Sealer::new(&secret(1)).unwrap();
        let mut opener = opener();
        let datagram = sealed(&mut sealer, b"once");
        assert_eq!(open(&mut opener, &datagram), Opened::Line(b"once", None));
        for _ in 0..3 {
            assert_eq!(
                open(&mut opener, &datagram),
                Opened::Nothing(Some(Event::Duplicated))
            );
        }
        assert_eq!(opener.finish().lines_duplicated, 3);
    }

    #[test]
    fn counts_net_losses_in_gaps_and_at_the_end_and_late_lines_take_theirs_back() {
        let mut sealer = Sealer::new(&secret(1)).unwrap();
        let mut opener = opener();
        let lines: Vec<Vec<u8>> = (0..10)
            .map(|i| sealed(&mut sealer, format!("{i}").as_bytes()))
            .collect();
        let end = sealer.end(&to()).unwrap().to_vec();
        // 0 1 _ _ 4 3 _ _ _ _ end: 2 and 5..=9 lost, 3 late.
        for i in [0, 1, 4, 3] {
            open(&mut opener, &lines[i]);
        }
        assert_eq!(open(&mut opener, &end), Opened::Nothing(Some(Event::Lost(5))));
        let counts = opener.finish();
        assert_eq!(
            (counts.lines_lost, counts.lines_reordered, counts.lines_duplicated),
            (6, 1, 0)
        );
    }

    #[test]
    fn counts_the_lines_before_the_first_only_for_a_sender_that_began_after_the_receiver() {
        let now = millis(SystemTime::now());
        let mut opener = opener();
        // Began a minute ago by its own clock: before this receiver did.
        let earlier = crafted(Kind::LINE, 1, now - 60_000, 3, now, b"3");
        assert_eq!(open(&mut opener, &earlier), Opened::Line(b"3", None));
        let skipped = crafted(Kind::LINE, 1, now - 60_000, 1, now, b"1");
        assert_eq!(open(&mut opener, &skipped), Opened::Line(b"1", None));
        // Began just now, by its clock, whatever that clock says of the time:
        // its elapsed time is shorter than the receiver's.
        // Here, a clock 30 s behind.
        let fresh = crafted(Kind::LINE, 2, now - 30_000, 1, now - 30_000, b"1");
        assert_eq!(
            open(&mut opener, &fresh),
            Opened::Line(b"1", Some(Event::Lost(1)))
        );
        // ... but not more than it can have sent in its elapsed time.
        let claims = crafted(Kind::LINE, 3, now, 1 << 40, now, b"far");
        assert_eq!(open(&mut opener, &claims), Opened::Line(b"far", None));
        assert_eq!(opener.finish().lines_lost, 1);
    }

    #[test]
    fn refuses_a_jump_no_chat_could_make_and_counts_nothing_lost() {
        let now = millis(SystemTime::now());
        let mut opener = opener();
        open(&mut opener, &crafted(Kind::LINE, 1, now - 60_000, 0, now, b"0"));
        for sequence in [1 << 40, MAX_SEQUENCE, MAX_SEQUENCE + 1, u64::MAX] {
            let jump = crafted(Kind::LINE, 1, now - 60_000, sequence, now, b"!");
            assert_eq!(open(&mut opener, &jump), Opened::Refused, "{sequence}");
            let end = crafted(Kind::END, 1, now - 60_000, sequence, now, b"");
            assert_eq!(open(&mut opener, &end), Opened::Refused, "{sequence}");
        }
        let next = crafted(Kind::LINE, 1, now - 60_000, 1, now, b"1");
        assert_eq!(open(&mut opener, &next), Opened::Line(b"1", None));
        let counts = opener.finish();
        assert_eq!((counts.lines_lost, counts.datagrams_rejected), (0, 8));
    }

    #[test]
    fn a_reliable_line_opens_with_its_base_only_within_the_senders_window() {
        let now = millis(SystemTime::now());
        let mut opener = opener();
        let line = |sequence: u64, behind: u16| {
            let body = [&behind.to_be_bytes()[..], b"hi"].concat();
            crafted(Kind::RELIABLE_LINE, 1, now, sequence, now, &body)
        };
        let Opened::Reliable(incoming) = open(&mut opener, &line(1030, 1023)) else {
            panic!("a line 1,023 above its base opens");
        };
        assert_eq!((incoming.base, incoming.line), (7, Some(&b"hi"[..])));
        for (sequence, behind) in [(1030, 1024), (3, 4)] {
            assert_eq!(open(&mut opener, &line(sequence, behind)), Opened::Refused);
        }
        let end = crafted(Kind::RELIABLE_END, 1, now, 1030, now, &1024u16.to_be_bytes());
        assert!(matches!(open(&mut opener, &end), Opened::Reliable(_)));
        let short = crafted(Kind::RELIABLE_END, 1, now, 1030, now, &[0]);
        assert_eq!(open(&mut opener, &short), Opened::Refused);
        let garbled_ack = crafted(Kind::ACK, 1, now, 0, now, b"not an ack");
        assert_eq!(open(&mut opener, &garbled_ack), Opened::Refused);
    }

    #[test]
    fn ignores_and_counts_a_kind_it_does_not_know_without_blaming_the_secret() {
        let now = millis(SystemTime::now());
        let mut opener = opener();
        for kind in [5, 6, 200] {
            let datagram = crafted(Kind(kind), 1, now, 0, now, b"body of a newer kind");
            assert_eq!(open(&mut opener, &datagram), Opened::Nothing(None));
        }
        // It touched no window: line 0 is new.
        assert_eq!(
            open(&mut opener, &crafted(Kind::LINE, 1, now, 0, now, b"0")),
            Opened::Line(b"0", None)
        );
        let counts = opener.finish();
        assert_eq!(
            (counts.datagrams_of_unknown_kind, counts.datagrams_rejected),
            (3, 0)
        );
    }

    #[test]
    fn refuses_its_own_lines_sent_back_to_it() {
        let mut sealer = Sealer::new(&secret(1)).unwrap();
        let mut opener = Opener::new(&secret(1), Some(sealer.session()), Recipient::Anywhere);
        let mine = sealed(&mut sealer, b"transfer 100 to mallory");
        assert_eq!(open(&mut opener, &mine), Opened::Refused);
        let theirs = sealed(&mut Sealer::new(&secret(1)).unwrap(), b"from the peer");
        assert_eq!(open(&mut opener, &theirs), Opened::Line(b"from the peer", None));
        assert_eq!(opener.finish().datagrams_rejected, 1);
    }

    #[test]
    fn a_new_session_is_never_refused_when_the_table_is_full() {
        let now = millis(SystemTime::now());
        let mut opener = opener();
        let real = crafted(Kind::LINE, 0, now - 60_000, 0, now, b"real");
        assert_eq!(open(&mut opener, &real), Opened::Line(b"real", None));
        for session in 1..=MAX_SESSIONS as u64 + 1000 {
            let flood = crafted(Kind::LINE, session, now, 0, now, b"flood");
            assert_eq!(open(&mut opener, &flood), Opened::Line(b"flood", None));
        }
        // The real session was pushed out; it speaks again and is shown.
        let again = crafted(Kind::LINE, 0, now - 60_000, 1, now, b"again");
        assert_eq!(open(&mut opener, &again), Opened::Line(b"again", None));
        let counts = opener.finish();
        assert_eq!((counts.datagrams_rejected, counts.lines_lost), (0, 0));
    }

    /// A sequence number: near the start, near the limit, or anything.
    fn sequence() -> impl proptest::strategy::Strategy<Value = u64> {
        use proptest::prelude::*;
        prop_oneof![0u64..2_100, (MAX_SEQUENCE - 2)..=(MAX_SEQUENCE + 1), any::<u64>(),]
    }

    proptest::proptest! {
        /// Datagrams with any header, as a holder of the secret can send
        /// them, some changed on the way: nothing panics, only authentic
        /// lines within the rules are shown, none twice, and the counts are
        /// the events told (losses net of late lines).
        #[test]
        fn any_header_is_judged_without_panic_and_the_counts_are_the_events_told(
            datagrams in proptest::collection::vec(
                (0u8..4, 0u64..4, sequence(), -70_000i64..70_000, -100_000i64..100_000, proptest::option::of(proptest::prelude::any::<u8>())),
                1..100,
            )
        ) {
            let at = SystemTime::now();
            let now = millis(at);
            let mut opener = opener();
            let mut shown = std::collections::HashSet::new();
            let (mut lost, mut late, mut duplicated, mut refused) = (0u64, 0u64, 0u64, 0u64);
            for (kind, session, sequence, sent, started, changed) in datagrams {
                let sent = now.saturating_add_signed(sent);
                let started = now.saturating_add_signed(started);
                let mut datagram = crafted(Kind(kind), session, started, sequence, sent, b"body");
                if let Some(byte) = changed {
                    let at = usize::from(byte) % datagram.len();
                    datagram[at] ^= 0x20;
                }
                let opened = opener.open(&mut datagram, &from(), at);
                let event = match opened {
                    Opened::Line(line, event) => {
                        proptest::prop_assert_eq!(line, b"body");
                        proptest::prop_assert!(changed.is_none() && kind == 0);
                        proptest::prop_assert!(now.abs_diff(sent) <= TOLERANCE.as_millis() as u64);
                        proptest::prop_assert!(sequence < MAX_SEQUENCE);
                        proptest::prop_assert!(shown.insert((session, sequence)), "shown twice");
                        event
                    }
                    Opened::Nothing(event) => event,
                    Opened::Refused => {
                        refused += 1;
                        None
                    }
                    Opened::Reliable(_) => {
                        proptest::prop_assert!(kind == 3 || kind == 4);
                        None
                    }
                };
                match event {
                    Some(Event::Lost(lines)) => lost += lines,
                    Some(Event::Late) => late += 1,
                    Some(Event::Duplicated) => duplicated += 1,
                    None => {}
                }
            }
            let counts = opener.finish();
            proptest::prop_assert_eq!(counts.lines_lost, lost - late);
            proptest::prop_assert_eq!(counts.lines_reordered, late);
            proptest::prop_assert_eq!(counts.lines_duplicated, duplicated);
            proptest::prop_assert_eq!(counts.datagrams_rejected, refused);
        }
    }
}
