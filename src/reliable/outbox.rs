//! The sender's side of confirmed delivery: the lines in flight to each peer, the acknowledgements that take them out, the retransmission timer, and giving up.
//!
//! Three threads share it, behind one mutex: the sender thread puts each
//! line in (waiting for room: that is the flow control), the receiver
//! thread applies each acknowledgement, and the resend thread
//! ([`Outbox::run_timers`]) sleeps until the earliest deadline, resends
//! what is due and gives up on a silent peer. Nothing seals or sends while
//! the lock is held: the outbox hands out what to send, and the caller
//! seals it. With nothing in flight the resend thread waits on the condition
//! variable with no timeout: an idle chat makes no wakeups.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use log::warn;

use crate::progress::Progress;
use crate::reliable::{Ack, Reliable, WINDOW_BYTES, WINDOW_LINES, push_number};
use crate::summary::{Delivery, PeerDelivery, count, line_numbers};

/// The retransmission timeout before any round trip was measured (RFC 6298
/// says 1 s for the Internet; a LAN answers in well under a millisecond).
const INITIAL_RTO: Duration = Duration::from_millis(200);
/// The least retransmission timeout: a LAN's round trip plus a receiver's
/// scheduling delay, with room (RFC 6298 says 1 s for the Internet).
const MIN_RTO: Duration = Duration::from_millis(30);
/// The greatest retransmission timeout, backed off or not.
const MAX_RTO: Duration = Duration::from_secs(2);
/// A line this many below the highest one held is taken as lost, and resent
/// at once (the duplicate-acknowledgement threshold of RFC 5681).
const REORDERING: u64 = 3;
/// A sender that waited for room waits until this many lines of room are
/// free, so that it is woken once per batch of acknowledgements, not per line.
const LOW_WATER: usize = 64;
/// After its receiver thread wrote its output, how long the sender waits
/// before it may give a peer up: the acknowledgements that came meanwhile
/// are waiting on the socket.
const GRACE_AFTER_WRITE: Duration = Duration::from_millis(100);
/// At a terminal ([`Reliable::keep_trying`]), how long a typed line may wait
/// for its acknowledgement before udpchat says it is pending: far more than
/// a LAN's round trip, short enough for a person still looking.
pub(crate) const PENDING_NOTICE: Duration = Duration::from_secs(1);
/// Lines whose text a notice at a terminal quotes, at most.
const QUOTED: usize = 3;

/// The lines in flight, shared by the sender, receiver and resend threads.
pub(crate) struct Outbox {
    state: Mutex<State>,
    /// The sender waits on it for room, or for the last acknowledgements.
    room: Condvar,
    /// The resend thread waits on it for an earlier deadline.
    timers: Condvar,
    /// The session the lines are sealed in: acknowledgements name it.
    session: u64,
    reliable: Reliable,
    progress: Progress,
}

/// What to send for a line or an end, to one peer.
#[derive(Clone, Debug)]
pub(crate) struct Send {
    pub to: SocketAddr,
    /// The lowest line the sender still resends to this peer.
    pub base: u64,
    /// The line's number, or for the end of input the number of lines.
    pub number: u64,
    /// The line; `None` for the end of input.
    pub line: Option<Arc<[u8]>>,
    /// Ask for the acknowledgement at once
    /// ([`ACK_NOW`](crate::wire::format::ACK_NOW)): the sender may send
    /// nothing more for a while, and without it the receiver may wait for
    /// more lines to acknowledge them together.
    pub ack_now: bool,
}

/// Whether the sender may put the next line in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Room {
    Ready,
    /// The chat is stopping.
    Stopping,
    /// Every peer was given up, for good: no line can be delivered.
    NoPeerLeft,
}

/// What became of an acknowledgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Acked {
    /// Taken (it may have said nothing new).
    Taken,
    /// For another session than this chat's: an earlier run's, or another chat's. Ignored.
    OtherSession,
    /// Refused and counted: from an address this chat does not send to, or
    /// acknowledging lines never sent or an end not sent.
    Refused,
}

struct State {
    peers: Vec<Peer>,
    /// Lines numbered so far: every line numbered below it was put in.
    numbered: u64,
    /// The number of lines, once the input ended.
    ended: Option<u64>,
    stopping: bool,
    /// The sender waits on `room`: only then do acknowledgements wake it.
    sender_waits: bool,
    /// The receiver thread is writing its output, and when it last finished.
    writing: bool,
    written_at: Instant,
    /// Warnings to log once the lock is released (stderr may block).
    notices: Vec<String>,
    /// The resend thread is writing notices taken from `notices`: the
    /// sender does not end the chat on a peer given up before they are.
    notices_out: bool,
    acks_refused: u64,
}

impl State {
    /// Every notice (a peer given up among them) was written.
    fn told(&self) -> bool {
        self.notices.is_empty() && !self.notices_out
    }
}

struct Peer {
    /// Where its lines are sent, as the socket takes it (IPv4-mapped on a
    /// dual-stack socket).
    send_to: SocketAddr,
    /// The same, canonical (IPv4 as IPv4): as acknowledgements come from
    /// it, and as it is named.
    addr: SocketAddr,
    flight: VecDeque<Entry>,
    bytes: usize,
    rtt: Rtt,
    /// Consecutive timeouts without progress: the timeout doubles with each.
    backoff: u32,
    /// The retransmission timer, running while something waits.
    timer: Option<Instant>,
    /// When the peer last acknowledged something new, or when it was last
    /// given something to acknowledge after it had nothing.
    last_progress: Instant,
    given_up: bool,
    /// The pending notice was given for the lines waiting now.
    told_pending: bool,
    end: End,
    /// Lines found lost by the acknowledgements, to resend at once.
    due: Vec<u64>,
    /// Entries marked held by the last acknowledgement.
    held: usize,
    delivered: u64,
    resent: u64,
    not_delivered: Vec<RangeInclusive<u64>>,
}

struct Entry {
    number: u64,
    /// The input's line number, from 1, for the report.
    input_line: u64,
    line: Arc<[u8]>,
    sent_at: Instant,
    first_sent: Instant,
    /// Sent more than once: its acknowledgement is no round-trip sample (Karn).
    resent: bool,
    /// The receiver holds it (a selective acknowledgement said so).
    held: bool,
    /// Found lost by an acknowledgement, and not resent since.
    marked_lost: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    NotSent,
    Pending { sent_at: Instant },
    Acked,
    NotDelivered,
}

/// Round-trip estimates, RFC 6298.
struct Rtt {
    smoothed: Option<Duration>,
    variation: Duration,
}

impl Rtt {
    fn sample(&mut self, rtt: Duration) {
        match self.smoothed {
            None => {
                self.smoothed = Some(rtt);
                self.variation = rtt / 2;
            }
            Some(smoothed) => {
                let deviation = smoothed.abs_diff(rtt);
                self.variation = (self.variation * 3 + deviation) / 4;
                self.smoothed = Some((smoothed * 7 + rtt) / 8);
            }
        }
    }

    fn timeout(&self, backoff: u32) -> Duration {
        let base = match self.smoothed {
            None => INITIAL_RTO,
            Some(smoothed) => smoothed + self.variation * 4,
        };
        base.clamp(MIN_RTO, MAX_RTO)
            .saturating_mul(1 << backoff.min(8))
            .min(MAX_RTO)
    }
}

impl Peer {
    fn new(send_to: SocketAddr, now: Instant) -> Peer {
        Peer {
            send_to,
            addr: crate::net::canonical(send_to),
            flight: VecDeque::new(),
            bytes: 0,
            rtt: Rtt {
                smoothed: None,
                variation: Duration::ZERO,
            },
            backoff: 0,
            timer: None,
            last_progress: now,
            given_up: false,
            told_pending: false,
            end: End::NotSent,
            due: Vec::new(),
            held: 0,
            delivered: 0,
            resent: 0,
            not_delivered: Vec::new(),
        }
    }

    /// Whether lines or the end wait for this peer's acknowledgement.
    fn waiting(&self) -> bool {
        !self.flight.is_empty() || matches!(self.end, End::Pending { .. })
    }

    /// Whether the window is nearly full: a line the size of the largest
    /// datagram, with a batch of room to spare, would not fit. The sender
    /// may soon have to wait for room, so each line asks for its
    /// acknowledgement at once: no receiver waits for more lines that
    /// cannot come.
    fn nearly_full(&self) -> bool {
        !self.has_room(usize::from(u16::MAX), LOW_WATER)
    }

    /// Whether a line of `len` bytes fits, with `slack` lines (and as many
    /// KiB) to spare.
    fn has_room(&self, len: usize, slack: usize) -> bool {
        self.given_up
            || (self.flight.len() + slack < WINDOW_LINES as usize
                && self.bytes + len + slack * 1024 <= WINDOW_BYTES)
    }

    fn base(&self, numbered: u64) -> u64 {
        self.flight.front().map_or(numbered, |entry| entry.number)
    }

    fn done(&self) -> bool {
        self.given_up || (self.flight.is_empty() && self.end == End::Acked)
    }

    /// Resends, at once, the lines the acknowledgements found lost (and not
    /// resent since). Returns how many.
    fn resend_found_lost(&mut self, base: u64, now: Instant, sends: &mut Vec<Send>) -> u64 {
        let mut resent = 0;
        for number in self.due.drain(..) {
            // The flight holds consecutive numbers from its front.
            let at = number.checked_sub(base).and_then(|at| usize::try_from(at).ok());
            let Some(entry) = at.and_then(|at| self.flight.get_mut(at)) else {
                continue;
            };
            if entry.marked_lost {
                sends.push(entry.resend(self.send_to, base, now));
                resent += 1;
            }
        }
        resent
    }

    /// The retransmission timer fired: the first time since progress it
    /// resends every line that timed out and is not held (a burst lost);
    /// later times only the earliest, as a probe; the end (numbered
    /// `lines`) when no line waits; and each time the timeout doubles.
    /// Returns how many lines it resent.
    fn timer_fired(&mut self, base: u64, lines: u64, now: Instant, sends: &mut Vec<Send>) -> u64 {
        let timeout = self.rtt.timeout(self.backoff);
        let probe_only = self.backoff > 0;
        let mut resent = 0;
        for entry in self.flight.iter_mut() {
            if entry.held || now.saturating_duration_since(entry.sent_at) < timeout {
                continue;
            }
            sends.push(entry.resend(self.send_to, base, now));
            resent += 1;
            if probe_only {
                break;
            }
        }
        if let End::Pending { sent_at } = self.end
            && self.flight.is_empty()
            && now.saturating_duration_since(sent_at) >= timeout
        {
            self.end = End::Pending { sent_at: now };
            sends.push(Send {
                to: self.send_to,
                base,
                number: lines,
                line: None,
                ack_now: true,
            });
        }
        self.backoff = self.backoff.saturating_add(1).min(8);
        self.timer = Some(now + self.rtt.timeout(self.backoff));
        resent
    }
}

impl Entry {
    /// The line sent again, now, to `to` whose base is `base`.
    fn resend(&mut self, to: SocketAddr, base: u64, now: Instant) -> Send {
        self.sent_at = now;
        self.resent = true;
        self.marked_lost = false;
        Send {
            to,
            base,
            number: self.number,
            line: Some(self.line.clone()),
            // The timer fired or a loss was found: no later line is sure to come.
            ack_now: true,
        }
    }
}

impl Outbox {
    /// An empty outbox for lines sealed in `session` and sent to `peers`.
    pub fn new(session: u64, peers: &[SocketAddr], reliable: Reliable, progress: Progress) -> Outbox {
        let now = Instant::now();
        let mut unique: Vec<SocketAddr> = Vec::new();
        for &peer in peers {
            if !unique
                .iter()
                .any(|&known| crate::net::canonical(known) == crate::net::canonical(peer))
            {
                unique.push(peer);
            }
        }
        Outbox {
            state: Mutex::new(State {
                peers: unique.into_iter().map(|addr| Peer::new(addr, now)).collect(),
                numbered: 0,
                ended: None,
                stopping: false,
                sender_waits: false,
                writing: false,
                written_at: now,
                notices: Vec::new(),
                notices_out: false,
                acks_refused: 0,
            }),
            room: Condvar::new(),
            timers: Condvar::new(),
            session,
            reliable,
            progress,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere stops the chat; what is left here is still whole.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until every peer has room for a line of `len` bytes.
    pub fn wait_for_room(&self, len: usize) -> Room {
        let mut state = self.lock();
        loop {
            if state.stopping {
                self.stop_waiting(&mut state);
                return Room::Stopping;
            }
            if !self.reliable.keep_trying && state.peers.iter().all(|peer| peer.given_up) {
                // Once the warning that says so is written.
                if state.told() {
                    self.stop_waiting(&mut state);
                    return Room::NoPeerLeft;
                }
            } else {
                // Once it had to wait, it waits for a batch of room.
                let slack = if state.sender_waits { LOW_WATER } else { 0 };
                if state.peers.iter().all(|peer| peer.has_room(len, slack)) {
                    self.stop_waiting(&mut state);
                    return Room::Ready;
                }
            }
            if !state.sender_waits {
                state.sender_waits = true;
                self.progress.waiting(true);
            }
            state = self
                .room
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Puts line `number` (the input's line `input_line`) in, and fills
    /// `sends` with what to send to each peer. A peer given up for good
    /// gets nothing: the line counts as not delivered to it. Unless
    /// `more_follows` (the next line is at hand and no pace holds it back),
    /// each copy asks for its acknowledgement at once.
    pub fn push(&self, number: u64, input_line: u64, line: &[u8], more_follows: bool, sends: &mut Vec<Send>) {
        sends.clear();
        let line: Arc<[u8]> = Arc::from(line);
        let now = Instant::now();
        let mut state = self.lock();
        state.numbered = number + 1;
        let mut start_timer = false;
        for peer in &mut state.peers {
            if peer.given_up {
                if !self.reliable.keep_trying {
                    push_number(&mut peer.not_delivered, input_line);
                    self.progress.not_delivered(1);
                    continue;
                }
                peer.given_up = false;
            }
            if !peer.waiting() {
                peer.last_progress = now;
            }
            if peer.timer.is_none() {
                peer.timer = Some(now + peer.rtt.timeout(peer.backoff));
                start_timer = true;
            }
            let base = peer.base(number);
            peer.bytes += line.len();
            peer.flight.push_back(Entry {
                number,
                input_line,
                line: line.clone(),
                sent_at: now,
                first_sent: now,
                resent: false,
                held: false,
                marked_lost: false,
            });
            sends.push(Send {
                to: peer.send_to,
                base,
                number,
                line: Some(line.clone()),
                ack_now: !more_follows || peer.nearly_full(),
            });
            self.progress.pending(1);
        }
        drop(state);
        if start_timer {
            self.timers.notify_one();
        }
    }

    /// The input ended: fills `sends` with the end of input for every peer
    /// still waited for.
    pub fn end(&self, sends: &mut Vec<Send>) {
        sends.clear();
        let now = Instant::now();
        let mut state = self.lock();
        let lines = state.numbered;
        state.ended = Some(lines);
        for peer in &mut state.peers {
            if peer.given_up && !self.reliable.keep_trying {
                peer.end = End::NotDelivered;
                continue;
            }
            peer.given_up = false;
            if !peer.waiting() {
                peer.last_progress = now;
            }
            peer.end = End::Pending { sent_at: now };
            if peer.timer.is_none() {
                peer.timer = Some(now + peer.rtt.timeout(peer.backoff));
            }
            sends.push(Send {
                to: peer.send_to,
                base: peer.base(lines),
                number: lines,
                line: None,
                ack_now: true,
            });
        }
        drop(state);
        self.timers.notify_one();
    }

    /// Waits until every peer acknowledged every line and the end, or was
    /// given up, or the chat stops. True when every peer acknowledged all.
    pub fn wait_until_done(&self) -> bool {
        let mut state = self.lock();
        loop {
            if state.peers.iter().all(Peer::done) && state.told() {
                self.stop_waiting(&mut state);
                return state.peers.iter().all(|peer| !peer.given_up);
            }
            if state.stopping {
                self.stop_waiting(&mut state);
                return false;
            }
            if !state.sender_waits {
                state.sender_waits = true;
                self.progress.waiting(true);
            }
            state = self
                .room
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// The sender no longer waits (if it did).
    fn stop_waiting(&self, state: &mut State) {
        if state.sender_waits {
            state.sender_waits = false;
            self.progress.waiting(false);
        }
    }

    /// The receiver thread writes its output (`true`), or has written it.
    /// While it writes it takes no acknowledgement, so none of its peers is
    /// given up meanwhile (its own output blocked is no sign of theirs), and
    /// after it the acknowledgements that waited get a moment to be taken.
    pub fn writing(&self, writing: bool) {
        let mut state = self.lock();
        state.writing = writing;
        if !writing {
            state.written_at = Instant::now();
        }
    }

    /// The chat is stopping: every wait ends, and the resend thread returns.
    pub fn stop(&self) {
        self.lock().stopping = true;
        self.room.notify_all();
        self.timers.notify_all();
    }

    /// An acknowledgement from `from`, authenticated by the wire.
    pub fn acknowledged(&self, from: &SocketAddr, ack: &Ack) -> Acked {
        if ack.session != self.session {
            return Acked::OtherSession;
        }
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        let numbered = state.numbered;
        let ended = state.ended;
        let Some(peer) = state.peers.iter_mut().find(|peer| peer.addr == *from) else {
            state.acks_refused += 1;
            return Acked::Refused;
        };
        let beyond = ack.next > numbered || ack.held.last().is_some_and(|&(_, end)| end > numbered);
        if beyond || (ack.ended && ended != Some(ack.next)) {
            state.acks_refused += 1;
            return Acked::Refused;
        }
        let mut progressed = false;
        let mut delivered_notice = None;
        let mut delivered = 0;
        let mut sample = None;
        // Lines that waited behind a resent one (held, or freed with it) took
        // the hole's time, not a round trip: such an acknowledgement gives
        // no sample (Karn's rule, widened to the lines behind a resend).
        let mut waited = false;
        // When the latest line known to have arrived was sent.
        let mut latest_arrived: Option<Instant> = None;
        while let Some(entry) = peer.flight.front() {
            if entry.number >= ack.next {
                break;
            }
            let entry = peer.flight.pop_front().expect("a front entry");
            peer.bytes -= entry.line.len();
            if entry.held {
                peer.held -= 1;
            }
            peer.delivered += 1;
            delivered += 1;
            waited |= entry.resent || entry.held;
            sample = Some(now.saturating_duration_since(entry.sent_at));
            latest_arrived = latest_arrived.max(Some(entry.sent_at));
            progressed = true;
        }
        self.progress.delivered(delivered);
        if ack.ended && peer.flight.is_empty() && matches!(peer.end, End::Pending { .. }) {
            peer.end = End::Acked;
            progressed = true;
        }
        let mut due = false;
        if !ack.held.is_empty() || peer.held > 0 {
            due = mark_held(peer, &ack.held, latest_arrived);
        }
        if progressed {
            if let Some(rtt) = sample.filter(|_| !waited) {
                peer.rtt.sample(rtt);
            }
            if peer.told_pending && !peer.waiting() {
                peer.told_pending = false;
                if self.reliable.keep_trying {
                    delivered_notice = Some(format!("{} acknowledged every line: delivered", peer.addr));
                }
            }
            peer.last_progress = now;
            peer.backoff = 0;
            peer.timer = peer.waiting().then(|| now + peer.rtt.timeout(0));
        }
        let wake_sender = progressed && state.sender_waits;
        drop(guard);
        if let Some(notice) = delivered_notice {
            warn!(target: Reliable::NOTICE_TARGET, "{notice}");
        }
        // The resend thread only when something is due now: progress only
        // moves its deadline later, and it finds that out when it wakes.
        if due {
            self.timers.notify_one();
        }
        if wake_sender {
            self.room.notify_one();
        }
        Acked::Taken
    }

    /// The resend thread's loop: sleeps until the earliest deadline (or,
    /// with nothing in flight, until woken), resends what is due through
    /// `send`, gives up on peers silent for too long, and returns when the
    /// chat stops.
    pub fn run_timers(&self, mut send: impl FnMut(&Send)) {
        let mut sends = Vec::new();
        let mut state = self.lock();
        loop {
            if state.stopping {
                return;
            }
            let now = Instant::now();
            let next = self.due(&mut state, now, &mut sends);
            if !sends.is_empty() || !state.notices.is_empty() {
                // Logged without the lock: stderr may block, and the
                // sender and receiver must not wait behind it.
                let notices = std::mem::take(&mut state.notices);
                state.notices_out = !notices.is_empty();
                drop(state);
                for notice in notices {
                    warn!(target: Reliable::NOTICE_TARGET, "{notice}");
                }
                for resend in sends.drain(..) {
                    send(&resend);
                }
                state = self.lock();
                // Only now may the sender end the chat on a peer given up:
                // the warning that says so is written.
                if state.notices_out {
                    state.notices_out = false;
                    self.room.notify_all();
                }
                continue;
            }
            state = match next {
                None => self
                    .timers
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(deadline) => {
                    let wait = deadline.saturating_duration_since(now);
                    match self.timers.wait_timeout(state, wait) {
                        Ok((state, _)) => state,
                        Err(poisoned) => poisoned.into_inner().0,
                    }
                }
            };
        }
    }

    /// Fills `sends` with what is due at `now`, gives up on silent peers
    /// (each with a notice: the sender is woken once it is written), and
    /// returns the next deadline, if anything waits.
    fn due(&self, state: &mut State, now: Instant, sends: &mut Vec<Send>) -> Option<Instant> {
        let numbered = state.numbered;
        let ended = state.ended;
        // Not while the receiver writes, nor just after: acknowledgements
        // may be waiting for it to be taken.
        let can_give_up = !state.writing && now >= state.written_at + GRACE_AFTER_WRITE;
        let mut next: Option<Instant> = None;
        for peer in &mut state.peers {
            if !peer.waiting() {
                continue;
            }
            let mut give_up_at = peer.last_progress + self.reliable.give_up;
            if now >= give_up_at {
                if can_give_up {
                    let notice = self.give_up(peer);
                    state.notices.push(notice);
                    continue;
                }
                // Asked again a little later.
                give_up_at = now + GRACE_AFTER_WRITE;
            }
            let base = peer.base(numbered);
            let mut resent = peer.resend_found_lost(base, now, sends);
            if peer.timer.is_some_and(|timer| now >= timer) {
                resent += peer.timer_fired(base, ended.unwrap_or(numbered), now, sends);
            }
            peer.resent += resent;
            self.progress.resent(resent);
            let mut soonest = peer.timer.unwrap_or(give_up_at).min(give_up_at);
            // At a terminal, a typed line waiting too long is told as pending, once.
            if self.reliable.keep_trying
                && !peer.told_pending
                && let Some(oldest) = peer.flight.front()
            {
                let notice_at = oldest.first_sent + PENDING_NOTICE;
                if now >= notice_at {
                    peer.told_pending = true;
                    state.notices.push(format!(
                        "not acknowledged yet by {}: {} (pending; udpchat keeps sending)",
                        peer.addr,
                        quoted(peer.flight.iter())
                    ));
                } else {
                    soonest = soonest.min(notice_at);
                }
            }
            next = Some(next.map_or(soonest, |next| next.min(soonest)));
        }
        next
    }

    /// `peer` acknowledged nothing new for the give-up time: what waits for
    /// it is not delivered. Returns the warning that says so.
    fn give_up(&self, peer: &mut Peer) -> String {
        let lines = peer.flight.len() as u64;
        let text = if self.reliable.keep_trying {
            format!(": {}", quoted(peer.flight.iter()))
        } else {
            String::new()
        };
        let mut given_up = Vec::new();
        for entry in peer.flight.drain(..) {
            push_number(&mut given_up, entry.input_line);
        }
        for range in &given_up {
            for number in range.clone() {
                push_number(&mut peer.not_delivered, number);
            }
        }
        peer.bytes = 0;
        peer.held = 0;
        peer.due.clear();
        peer.timer = None;
        peer.backoff = 0;
        if matches!(peer.end, End::Pending { .. }) {
            peer.end = End::NotDelivered;
        }
        peer.given_up = true;
        peer.told_pending = false;
        self.progress.pending_given_up(lines);
        let waited = humantime(self.reliable.give_up);
        if lines > 0 {
            format!(
                "NOT DELIVERED to {}: {} ({}), no acknowledgement for {waited}{text}",
                peer.addr,
                count(lines, "line"),
                line_numbers(&given_up)
            )
        } else {
            format!(
                "the end of input not acknowledged by {}: no acknowledgement for {waited}",
                peer.addr
            )
        }
    }

    /// What became of every line, per peer, once the chat has stopped:
    /// lines still in flight count as not delivered.
    pub fn report(&self) -> Delivery {
        let state = self.lock();
        let peers = state
            .peers
            .iter()
            .map(|peer| {
                let mut not_delivered = peer.not_delivered.clone();
                let mut waiting: Vec<u64> = peer.flight.iter().map(|entry| entry.input_line).collect();
                waiting.sort_unstable();
                for number in waiting {
                    insert_number(&mut not_delivered, number);
                }
                PeerDelivery {
                    peer: peer.addr,
                    lines_delivered: peer.delivered,
                    lines_resent: peer.resent,
                    not_delivered,
                    end_acknowledged: peer.end == End::Acked,
                }
            })
            .collect();
        Delivery {
            peers,
            acks_refused: state.acks_refused,
        }
    }

    /// Lines numbered so far: every acknowledgement is below it.
    pub fn lines_numbered(&self) -> u64 {
        self.lock().numbered
    }
}

/// Marks the entries `held` names as held, and as lost, due at once, those
/// that both lie [`REORDERING`] lines below the highest held (reordering
/// is told from loss by count) and were sent, or last resent, no later than
/// a line that arrived (RFC 8985's rule by time: a resend lost again is
/// found so too, once a line sent after it arrives, without the timer).
/// `latest_arrived` is when the latest line taken out by this
/// acknowledgement was sent. Returns whether any became due.
fn mark_held(peer: &mut Peer, held: &[(u64, u64)], mut latest_arrived: Option<Instant>) -> bool {
    let highest = held.last().map(|&(_, end)| end - 1);
    let mut ranges = held.iter().peekable();
    let mut count = 0;
    for entry in peer.flight.iter_mut() {
        while ranges.peek().is_some_and(|&&(_, end)| end <= entry.number) {
            ranges.next();
        }
        entry.held = ranges
            .peek()
            .is_some_and(|&&(first, end)| (first..end).contains(&entry.number));
        if entry.held {
            count += 1;
            latest_arrived = latest_arrived.max(Some(entry.sent_at));
        }
    }
    peer.held = count;
    let (Some(highest), Some(latest_arrived)) = (highest, latest_arrived) else {
        return false;
    };
    let mut due = false;
    for entry in peer.flight.iter_mut() {
        if entry.number + REORDERING > highest {
            break;
        }
        if !entry.held && !entry.marked_lost && entry.sent_at <= latest_arrived {
            entry.marked_lost = true;
            peer.due.push(entry.number);
            due = true;
        }
    }
    due
}

/// The first lines of `entries`, quoted for a notice at a terminal (the
/// user's own text, escaped all the same), with how many more there are.
fn quoted<'a>(entries: impl ExactSizeIterator<Item = &'a Entry>) -> String {
    let more = entries.len().saturating_sub(QUOTED);
    let mut text = entries
        .take(QUOTED)
        .map(|entry| {
            let line = crate::display::Style::sanitize_text(&entry.line);
            let short: String = line.chars().take(40).collect();
            let cut = if short.len() < line.len() { "..." } else { "" };
            format!("\"{short}{cut}\"")
        })
        .collect::<Vec<_>>()
        .join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// Adds `number` to ascending, non-touching `ranges`, wherever it falls.
fn insert_number(ranges: &mut Vec<RangeInclusive<u64>>, number: u64) {
    if ranges.last().is_none_or(|last| number > *last.end()) {
        push_number(ranges, number);
        return;
    }
    if ranges.iter().any(|range| range.contains(&number)) {
        return;
    }
    let mut numbers: Vec<u64> = ranges.iter().flat_map(|range| range.clone()).collect();
    numbers.push(number);
    numbers.sort_unstable();
    ranges.clear();
    for number in numbers {
        push_number(ranges, number);
    }
}

/// A duration as `--give-up` takes it: `30s`, `1.5s`, `250ms`.
pub(crate) fn humantime(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn outbox(peers: &[SocketAddr], give_up: Duration) -> Outbox {
        Outbox::new(
            7,
            peers,
            Reliable::new().giving_up_after(give_up),
            Progress::new(false, None),
        )
    }

    fn push(outbox: &Outbox, number: u64) -> Vec<Send> {
        let mut sends = Vec::new();
        outbox.push(
            number,
            number + 1,
            format!("{number}").as_bytes(),
            true,
            &mut sends,
        );
        sends
    }

    #[test]
    fn a_line_asks_for_its_acknowledgement_at_once_when_no_line_may_follow_soon() {
        let outbox = outbox(&[addr(1)], Duration::from_secs(30));
        let mut sends = Vec::new();
        outbox.push(0, 1, b"typed", false, &mut sends);
        assert!(sends[0].ack_now, "nothing more at hand");
        assert!(!push(&outbox, 1)[0].ack_now, "more at hand");
        // Near the window's end each line asks: the sender may have to wait.
        let batch_short = WINDOW_LINES - LOW_WATER as u64;
        push_all(&outbox, 2..batch_short - 2);
        assert!(!push(&outbox, batch_short - 2)[0].ack_now);
        assert!(push(&outbox, batch_short - 1)[0].ack_now);
        // Resends always ask.
        outbox.acknowledged(&addr(1), &ack(0, vec![(5, 9)]));
        let mut resent = Vec::new();
        outbox.lock().peers[0].resend_found_lost(0, Instant::now(), &mut resent);
        assert!(!resent.is_empty() && resent.iter().all(|send| send.ack_now));
    }

    /// Puts lines `numbers` in, one after the other.
    fn push_all(outbox: &Outbox, numbers: std::ops::Range<u64>) {
        for number in numbers {
            push(outbox, number);
        }
    }

    fn ack(next: u64, held: Vec<(u64, u64)>) -> Ack {
        Ack {
            session: 7,
            next,
            ended: false,
            held,
        }
    }

    #[test]
    fn an_acknowledgement_takes_lines_out_and_counts_them_delivered() {
        let outbox = outbox(&[addr(1)], Duration::from_secs(30));
        for n in 0..5 {
            assert_eq!(push(&outbox, n)[0].base, 0);
        }
        assert_eq!(outbox.acknowledged(&addr(1), &ack(3, vec![])), Acked::Taken);
        assert_eq!(push(&outbox, 5)[0].base, 3);
        let report = outbox.report();
        assert_eq!(report.peers[0].lines_delivered, 3);
        assert_eq!(report.peers[0].not_delivered, vec![4..=6]);
    }

    #[test]
    fn refuses_acks_for_lines_never_sent_from_strangers_and_ignores_other_sessions() {
        let outbox = outbox(&[addr(1)], Duration::from_secs(30));
        push(&outbox, 0);
        assert_eq!(outbox.acknowledged(&addr(1), &ack(2, vec![])), Acked::Refused);
        assert_eq!(
            outbox.acknowledged(&addr(1), &ack(0, vec![(1, 9)])),
            Acked::Refused
        );
        assert_eq!(outbox.acknowledged(&addr(2), &ack(1, vec![])), Acked::Refused);
        let mut ended = ack(1, vec![]);
        ended.ended = true;
        assert_eq!(
            outbox.acknowledged(&addr(1), &ended),
            Acked::Refused,
            "no end was sent"
        );
        let mut other = ack(1, vec![]);
        other.session = 8;
        assert_eq!(outbox.acknowledged(&addr(1), &other), Acked::OtherSession);
        let report = outbox.report();
        assert_eq!((report.acks_refused, report.peers[0].lines_delivered), (4, 0));
    }

    #[test]
    fn a_peer_sent_to_as_ipv4_mapped_is_the_ipv4_address_acknowledgements_come_from() {
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:1".parse().unwrap();
        let outbox = outbox(&[mapped, addr(1)], Duration::from_secs(30));
        assert_eq!(outbox.lock().peers.len(), 1, "one peer, written two ways");
        assert_eq!(push(&outbox, 0)[0].to, mapped, "sent as the socket takes it");
        assert_eq!(outbox.acknowledged(&addr(1), &ack(1, vec![])), Acked::Taken);
        assert_eq!(outbox.report().peers[0].peer, addr(1));
    }

    #[test]
    fn no_peer_is_given_up_while_the_receiver_writes_nor_just_after() {
        let outbox = outbox(&[addr(1)], Duration::from_millis(100));
        push(&outbox, 0);
        let later = Instant::now() + Duration::from_secs(1);
        outbox.writing(true);
        let mut sends = Vec::new();
        let next = outbox.due(&mut outbox.lock(), later, &mut sends);
        assert!(!outbox.lock().peers[0].given_up);
        assert!(
            next.is_some_and(|next| next > later),
            "asked again later, not at once"
        );
        outbox.writing(false);
        outbox.due(&mut outbox.lock(), Instant::now(), &mut sends);
        assert!(!outbox.lock().peers[0].given_up, "a moment for what waited");
        outbox.due(&mut outbox.lock(), later, &mut sends);
        assert!(outbox.lock().peers[0].given_up);
    }

    #[test]
    fn a_hole_below_held_lines_is_resent_at_once_and_held_lines_are_not() {
        let outbox = outbox(&[addr(1)], Duration::from_secs(30));
        push_all(&outbox, 0..8);
        // 0 and 1 lost, 2..8 held.
        outbox.acknowledged(&addr(1), &ack(0, vec![(2, 8)]));
        assert_eq!(outbox.lock().peers[0].due, vec![0, 1]);
        let mut sends = Vec::new();
        let mut state = outbox.lock();
        outbox.due(&mut state, Instant::now(), &mut sends);
        let resent: Vec<u64> = sends.iter().map(|send| send.number).collect();
        assert_eq!(resent, vec![0, 1]);
        // The timer, once it fires, resends neither the held lines nor...
        sends.clear();
        outbox.due(&mut state, Instant::now() + MAX_RTO, &mut sends);
        let resent: Vec<u64> = sends.iter().map(|send| send.number).collect();
        assert_eq!(resent, vec![0, 1], "the held lines wait");
    }

    #[test]
    fn a_resend_lost_again_is_found_once_a_line_sent_after_it_arrives() {
        let outbox = outbox(&[addr(1)], Duration::from_secs(30));
        push_all(&outbox, 0..8);
        outbox.acknowledged(&addr(1), &ack(0, vec![(1, 8)]));
        let mut sends = Vec::new();
        outbox.due(&mut outbox.lock(), Instant::now(), &mut sends);
        assert_eq!(sends.len(), 1, "line 0 resent");
        // The same acknowledgement again says nothing new about line 0.
        outbox.acknowledged(&addr(1), &ack(0, vec![(1, 8)]));
        assert!(outbox.lock().peers[0].due.is_empty());
        // Lines sent after the resend arrive, line 0 not: lost again.
        push_all(&outbox, 8..12);
        outbox.acknowledged(&addr(1), &ack(0, vec![(1, 12)]));
        assert_eq!(outbox.lock().peers[0].due, vec![0]);
    }

    #[test]
    fn a_sender_is_let_go_on_the_last_peer_given_up_only_once_the_warning_is_written() {
        let outbox = outbox(&[addr(1)], Duration::from_millis(100));
        push_all(&outbox, 0..3);
        let later = Instant::now() + Duration::from_secs(1);
        outbox.due(&mut outbox.lock(), later, &mut Vec::new());
        // The resend thread took the warning and is writing it.
        let warning = std::mem::take(&mut outbox.lock().notices);
        assert_eq!(warning.len(), 1);
        outbox.lock().notices_out = true;
        std::thread::scope(|scope| {
            let sender = scope.spawn(|| outbox.wait_for_room(1));
            let deadline = Instant::now() + Duration::from_secs(10);
            while !outbox.lock().sender_waits {
                assert!(Instant::now() < deadline, "the sender never waited");
                std::thread::yield_now();
            }
            assert!(!sender.is_finished(), "let go before the warning was written");
            // Written: the resend thread lets it go.
            outbox.lock().notices_out = false;
            outbox.room.notify_all();
            assert_eq!(sender.join().unwrap(), Room::NoPeerLeft);
        });
    }

    #[test]
    fn gives_up_after_the_time_without_progress_and_names_the_lines() {
        let outbox = outbox(&[addr(1), addr(2)], Duration::from_millis(100));
        push_all(&outbox, 0..3);
        outbox.acknowledged(&addr(2), &ack(3, vec![]));
        let mut sends = Vec::new();
        let later = Instant::now() + Duration::from_secs(1);
        outbox.due(&mut outbox.lock(), later, &mut sends);
        assert_eq!(outbox.wait_for_room(1), Room::Ready, "peer 2 is left");
        // Later lines to the peer given up count at once, without being sent.
        let mut sends = push(&outbox, 3);
        assert_eq!(sends.len(), 1);
        assert_eq!(sends[0].to, addr(2));
        let report = outbox.report();
        assert_eq!(report.peers[0].not_delivered, vec![1..=4]);
        assert_eq!(report.peers[1].not_delivered, vec![4..=4]);
        outbox.due(&mut outbox.lock(), later + Duration::from_secs(1), &mut sends);
        // The sender is let go once the warnings are written, as the resend
        // thread does after it took them.
        assert!(!outbox.lock().told());
        outbox.lock().notices.clear();
        assert_eq!(outbox.wait_for_room(1), Room::NoPeerLeft);
    }

    #[test]
    fn a_full_window_waits_and_an_idle_outbox_has_no_deadline() {
        let outbox = outbox(&[addr(1)], Duration::from_secs(30));
        assert_eq!(
            outbox.due(&mut outbox.lock(), Instant::now(), &mut Vec::new()),
            None
        );
        push_all(&outbox, 0..WINDOW_LINES);
        assert!(!outbox.lock().peers[0].has_room(1, 0));
        outbox.acknowledged(&addr(1), &ack(WINDOW_LINES, vec![]));
        assert_eq!(outbox.wait_for_room(1), Room::Ready);
        assert_eq!(
            outbox.due(&mut outbox.lock(), Instant::now(), &mut Vec::new()),
            None
        );
    }

    #[test]
    fn the_end_is_done_only_once_acknowledged() {
        let outbox = outbox(&[addr(1)], Duration::from_secs(30));
        push(&outbox, 0);
        let mut sends = Vec::new();
        outbox.end(&mut sends);
        assert_eq!((sends[0].number, sends[0].line.is_none()), (1, true));
        outbox.acknowledged(&addr(1), &ack(1, vec![]));
        assert!(!outbox.lock().peers[0].done());
        let mut ended = ack(1, vec![]);
        ended.ended = true;
        assert_eq!(outbox.acknowledged(&addr(1), &ended), Acked::Taken);
        assert!(outbox.wait_until_done());
        assert!(outbox.report().peers[0].end_acknowledged);
    }

    #[test]
    fn lines_freed_by_a_resend_give_no_round_trip_sample() {
        let outbox = outbox(&[addr(1)], Duration::from_secs(30));
        push_all(&outbox, 0..4);
        // 0 lost and resent; 1..4 held, then freed with it.
        outbox.acknowledged(&addr(1), &ack(0, vec![(1, 4)]));
        outbox.due(&mut outbox.lock(), Instant::now(), &mut Vec::new());
        outbox.acknowledged(&addr(1), &ack(4, vec![]));
        assert_eq!(outbox.lock().peers[0].rtt.smoothed, None);
        // An acknowledgement of a line that waited for nothing is one.
        push(&outbox, 4);
        outbox.acknowledged(&addr(1), &ack(5, vec![]));
        assert!(outbox.lock().peers[0].rtt.smoothed.is_some());
    }

    #[test]
    fn ranges_take_numbers_in_any_order() {
        let mut ranges = vec![1..=2, 6..=6];
        insert_number(&mut ranges, 4);
        insert_number(&mut ranges, 3);
        insert_number(&mut ranges, 9);
        assert_eq!(ranges, vec![1..=4, 6..=6, 9..=9]);
    }

    #[test]
    fn the_timeout_follows_the_round_trip_within_its_bounds() {
        let mut rtt = Rtt {
            smoothed: None,
            variation: Duration::ZERO,
        };
        assert_eq!(rtt.timeout(0), INITIAL_RTO);
        rtt.sample(Duration::from_micros(100));
        assert_eq!(rtt.timeout(0), MIN_RTO);
        assert_eq!(rtt.timeout(1), MIN_RTO * 2);
        assert_eq!(rtt.timeout(40), MAX_RTO);
        rtt.sample(Duration::from_secs(10));
        assert_eq!(rtt.timeout(0), MAX_RTO);
    }
}
