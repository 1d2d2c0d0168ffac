//! What the sender keeps while it runs, and one method per event: a line read, a line that could not be sent, the end.
//!
//! [`Sender`](super::Sender) reads the input; [`Sending`] is everything it
//! carries from one line to the next: the socket and where lines go, the
//! sealer, the pace, the line number, and the failures not yet told.
//! Something new for the sender to keep (lines awaiting acknowledgement,
//! say) is a field here and a method for its event: the loop does not change.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::ops::ControlFlow::{self, Break, Continue};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, error, trace};

use crate::net;
use crate::progress::Sent;
use crate::reliable::outbox::{self, Room};
use crate::reliable::{BEHIND_LEN, Outbox};
use crate::send::lines::Line;
use crate::stop::{Stop, StopLine};
use crate::summary::count;
use crate::throttle::Throttle;
use crate::wire::Sealer;

/// The sender's state between lines.
pub(super) struct Sending {
    socket: UdpSocket,
    /// Where every line goes.
    peers: Vec<SocketAddr>,
    sealer: Sealer,
    /// The largest line that fits in one datagram to every peer.
    limit: usize,
    /// Spaces the lines out (`--rate`), if asked to.
    pacer: Option<Pacer>,
    /// Empty lines are not sent (`--skip-empty`, and at a terminal).
    skip_empty: bool,
    /// The number of the last line read, from 1.
    number: u64,
    unsent: Unsent,
    /// What the kernel reported on the socket that may fail a send.
    reports: Reports,
    /// Confirmed delivery's lines in flight, and what to send for a line.
    reliable: Option<Reliably>,
    stop: StopLine,
}

/// What the sender keeps to send reliably (`--reliable`).
struct Reliably {
    outbox: Arc<Outbox>,
    /// What to send for the line at hand, to each peer.
    sends: Vec<outbox::Send>,
    /// A reliable datagram's body, before it is sealed.
    scratch: Vec<u8>,
    /// Every peer was given up for good: the sender stops reading.
    gave_up: bool,
}

impl Sending {
    /// The state before the first line, for lines sealed by `sealer` and
    /// sent to `peers`, at least `interval` apart if given, empty ones
    /// too unless `skip_empty`.
    pub fn new(
        socket: UdpSocket,
        peers: Vec<SocketAddr>,
        sealer: Sealer,
        interval: Option<Duration>,
        skip_empty: bool,
        stop: StopLine,
    ) -> Sending {
        let limit = sealer.max_line(peers.iter().map(net::max_payload).min().unwrap_or(0));
        Sending {
            socket,
            peers,
            sealer,
            limit,
            pacer: interval.map(Pacer::new),
            skip_empty,
            number: 0,
            unsent: Unsent::default(),
            reports: Reports::default(),
            reliable: None,
            stop,
        }
    }

    /// The same, sending every line reliably through `outbox`: each line
    /// waits for room in it, and its datagram carries the sender's base,
    /// so the limit is that much less.
    pub fn reliably(mut self, outbox: Arc<Outbox>) -> Sending {
        self.limit = self.limit.saturating_sub(BEHIND_LEN);
        self.reliable = Some(Reliably {
            outbox,
            sends: Vec::new(),
            scratch: Vec::new(),
            gave_up: false,
        });
        self
    }

    /// The largest line that fits in one datagram to every peer.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A line was read (`more_at_hand`: the input has the next one
    /// buffered): it waits for its turn, is sealed and sent to every
    /// peer. Continues with what became of it: the bytes sent, a line that
    /// could not be sent (counted and told, see [`Unsent`]), or an empty
    /// line skipped; breaks when the chat is stopping.
    ///
    /// This, [`fits`](Self::fits) and [`seal_and_send`](Self::seal_and_send)
    /// are the per-line path, inlined into the loop as they were when they
    /// were one function: called out of line they cost about 30 instructions
    /// a line more (callgrind: 690 a line against 660).
    #[inline(always)]
    pub fn line(&mut self, line: Line<'_>, more_at_hand: bool) -> ControlFlow<(), Sent> {
        if self.stop.is_stopping() {
            return Break(());
        }
        self.number += 1;
        let sent = match line {
            Line::Fits([]) if self.skip_empty => Sent::Skipped,
            Line::Fits(bytes) => self.fits(bytes, more_at_hand)?,
            Line::TooLong(len) => {
                let kind = self.sealer.kind();
                self.failed(format!(
                    "{len} bytes do not fit in one {kind}datagram (at most {})",
                    self.limit
                ));
                Sent::Failed
            }
        };
        self.unsent.tell_if_due();
        Continue(sent)
    }

    /// A line that fits a datagram: sent in its turn, as [`line`](Self::line) says.
    #[inline(always)]
    fn fits(&mut self, bytes: &[u8], more_at_hand: bool) -> ControlFlow<(), Sent> {
        if let Some(pacer) = &mut self.pacer {
            pacer.wait();
            if self.stop.is_stopping() {
                return Break(());
            }
        }
        if self.reliable.is_some() {
            // A paced line is followed by the next only after a pause.
            return self.send_reliably(bytes, more_at_hand && self.pacer.is_none());
        }
        match self.seal_and_send(bytes) {
            Ok(()) => {
                trace!("line {} sent: {} bytes", self.number, bytes.len());
                Continue(Sent::Bytes(bytes.len()))
            }
            Err(reason) => {
                self.failed(reason);
                Continue(Sent::Failed)
            }
        }
    }

    /// Seals `line` and sends it to every peer. A line counts as sent when
    /// every peer's copy went out; every peer gets its copy, and the first
    /// failure is the reason told. A secured line is sealed for each peer,
    /// for it names where it is sent, under one line number.
    #[inline(always)]
    fn seal_and_send(&mut self, line: &[u8]) -> Result<(), String> {
        let number = self.sealer.next_line();
        let mut failed = None;
        for &peer in &self.peers {
            let sent = match self.sealer.seal(number, line, &peer) {
                Ok(datagram) => self
                    .reports
                    .send(&self.socket, datagram, peer)
                    .map_err(|err| err.to_string()),
                Err(err) => Err(format!("cannot seal it: {err}")),
            };
            if let Err(err) = sent {
                failed.get_or_insert_with(|| match self.peers.len() {
                    1 => err,
                    _ => format!("to {peer}: {err}"),
                });
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Puts `line` in the outbox once there is room, and sends it to every
    /// peer not given up. A send that fails is left to the resend thread.
    /// Unless `more_follows` at once, the line asks for its acknowledgement
    /// at once: a receiver may otherwise wait for more lines to acknowledge
    /// them together.
    fn send_reliably(&mut self, line: &[u8], more_follows: bool) -> ControlFlow<(), Sent> {
        let Some(reliably) = &mut self.reliable else {
            return Continue(Sent::Failed);
        };
        match reliably.outbox.wait_for_room(line.len()) {
            Room::Ready => {}
            Room::Stopping => return Break(()),
            Room::NoPeerLeft => {
                reliably.gave_up = true;
                return Break(());
            }
        }
        let number = self.sealer.next_line();
        reliably
            .outbox
            .push(number, self.number, line, more_follows, &mut reliably.sends);
        for send in &reliably.sends {
            if let Some(Ok(datagram)) = self.sealer.seal_reliable(send, &mut reliably.scratch)
                && let Err(err) = self.reports.send(&self.socket, datagram, send.to)
            {
                debug!(
                    "line {} to {}: {err}; it will be sent again",
                    self.number, send.to
                );
            }
        }
        trace!("line {} sent reliably: {} bytes", self.number, line.len());
        Continue(Sent::Bytes(line.len()))
    }

    /// The line just read could not be sent, for `reason`.
    fn failed(&mut self, reason: String) {
        self.unsent.failed(self.number, reason);
    }

    /// The loop ended, for `stopped` (`None`: the chat is stopping). The
    /// failures not told yet are told, and at the end of input a secured
    /// chat says so, so that receivers can count lines lost up to the last
    /// one. Returns why it stopped.
    pub fn end(mut self, stopped: Option<Stop>) -> Option<Stop> {
        self.unsent.tell();
        if let Some(mut reliably) = self.reliable.take() {
            if reliably.gave_up {
                return Some(Stop::GaveUp);
            }
            if matches!(stopped, Some(Stop::EndOfInput)) {
                reliably.outbox.end(&mut reliably.sends);
                for send in &reliably.sends {
                    if let Some(Ok(end)) = self.sealer.seal_reliable(send, &mut reliably.scratch) {
                        let _ = self.reports.send(&self.socket, end, send.to);
                    }
                }
                // Until every peer acknowledged all, gave up, or the chat stops.
                reliably.outbox.wait_until_done();
            }
            return stopped;
        }
        if matches!(stopped, Some(Stop::EndOfInput)) {
            for &peer in &self.peers {
                if let Some(Ok(end)) = self.sealer.end(&peer) {
                    let _ = self.reports.send(&self.socket, end, peer);
                }
            }
        }
        stopped
    }
}

/// Lines not sent are told on stderr without flooding it: the first at once,
/// with its reason, and the others summed up at most once a second (a link
/// down for a second and a half must not become three thousand lines of
/// stderr). The chat's final "N of M lines not sent" gives the total.
#[derive(Default)]
struct Unsent {
    /// The first failure has been told.
    told_any: bool,
    /// Failures are told at most once a second.
    telling: Throttle,
    /// Failures not yet told: how many, the first and last line number, and
    /// the last one's reason.
    pending: u64,
    first_pending: u64,
    last_pending: u64,
    last_reason: String,
}

impl Unsent {
    /// Line `number` could not be sent, for `reason`.
    fn failed(&mut self, number: u64, reason: String) {
        // The first is told at once (a fresh throttle allows it), with its reason.
        if !self.told_any && self.telling.allows(Instant::now()) {
            self.told_any = true;
            error!("line {number} not sent: {reason}");
            return;
        }
        if self.pending == 0 {
            self.first_pending = number;
        }
        self.pending += 1;
        self.last_pending = number;
        self.last_reason = reason;
    }

    /// Tells the failures not yet told, if the last report is old enough.
    /// Costs nothing while none are pending.
    fn tell_if_due(&mut self) {
        if self.pending > 0 && self.telling.allows(Instant::now()) {
            self.tell();
        }
    }

    /// Tells the failures not yet told, now.
    fn tell(&mut self) {
        if self.pending == 0 {
            return;
        }
        let lines = if self.pending == 1 {
            format!("line {}", self.last_pending)
        } else {
            format!("lines {} to {}", self.first_pending, self.last_pending)
        };
        let last = if self.pending == 1 { "" } else { "the last " };
        error!(
            "{} not sent ({lines}), {last}for this reason: {}",
            count(self.pending, "more line"),
            self.last_reason
        );
        self.pending = 0;
    }
}

/// How far behind its schedule the sender may fall (input arriving late) and
/// still catch up by sending without sleeping. A longer pause in the input
/// restarts the schedule instead, so a pause never turns into a burst.
const CATCH_UP: Duration = Duration::from_millis(10);

/// Spaces lines at least an interval apart (on average) for `--rate`, by
/// sleeping until each line's slot. No busy-waiting, and no drift: the slots
/// form a fixed grid, so time overslept for one line is made up on the next.
struct Pacer {
    interval: Duration,
    /// The earliest time the next line may go; `None` before the first.
    next: Option<Instant>,
}

impl Pacer {
    fn new(interval: Duration) -> Pacer {
        Pacer { interval, next: None }
    }

    /// Returns when the next line may be sent.
    fn wait(&mut self) {
        let now = Instant::now();
        let slot = match self.next {
            Some(next) if next > now => {
                thread::sleep(next - now);
                next
            }
            Some(next) if now - next <= CATCH_UP => next,
            _ => now,
        };
        // `--rate` allows at most a day between lines: this cannot overflow.
        self.next = Some(slot + self.interval);
    }
}

/// How long a send may keep failing with what may be reports of earlier
/// datagrams (see [`Reports`]) before the line is given up as not sent, and
/// how many tries that takes at least (a sender descheduled for a while has
/// not tried). A backlog of reports lasts far less: the receiver takes one
/// in about a microsecond, and the socket's error queue holds a few
/// thousand at most.
const REPORTS_PATIENCE: Duration = Duration::from_millis(100);
const REPORTS_MIN_TRIES: u32 = 100;

/// Sends datagrams through the reports the kernel leaves on the socket for
/// earlier ones.
///
/// On Linux, with `IP_RECVERR` on (see [`net::report_errors`]), each ICMP
/// error for a datagram sent earlier sets the socket's pending error, which
/// fails the next call on it once, before this datagram has gone; and so does
/// the receiver each time it takes one error from the socket's error queue
/// while another waits there. A peer that is not listening answers every
/// datagram, so while the receiver works through a backlog of those
/// answers, sends can fail many times in a row through no fault of their
/// own (with one retry, about one line in a hundred of 100,000 piped to a
/// closed loopback port was counted "not sent"). A send that fails with such
/// an error is therefore tried again until it goes, for as long as
/// [`REPORTS_PATIENCE`]; an error that lasts longer is real (no route to the
/// host: a report is taken by the call it fails) and later lines that meet
/// it try twice only, until a send succeeds again.
#[derive(Default)]
struct Reports {
    /// The error (its OS code) that outlasted the patience, if the last
    /// failure was one.
    lasting: Option<i32>,
}

impl Reports {
    /// Sends one datagram. A full local queue (`ENOBUFS`) is not retried:
    /// the datagram was dropped.
    #[inline(always)]
    fn send(&mut self, socket: &UdpSocket, bytes: &[u8], peer: SocketAddr) -> io::Result<()> {
        match socket.send_to(bytes, peer) {
            Ok(_) => {
                if self.lasting.is_some() {
                    self.lasting = None;
                }
                Ok(())
            }
            Err(err) => self.retry(err, || socket.send_to(bytes, peer).map(drop)),
        }
    }

    /// A send failed with `err`: `send` tries it again as the error says.
    #[cold]
    fn retry(&mut self, mut err: io::Error, mut send: impl FnMut() -> io::Result<()>) -> io::Result<()> {
        let first_failure = Instant::now();
        let mut tries: u32 = 0;
        loop {
            if net::is_queue_full(&err) {
                return Err(io::Error::new(
                    err.kind(),
                    format!("the local network queue is full and dropped it ({err}); --rate helps"),
                ));
            }
            let interrupted = err.kind() == io::ErrorKind::Interrupted;
            let lasting = self.lasting.is_some() && self.lasting == err.raw_os_error();
            let report = net::may_be_icmp_report(&err) && !lasting;
            if !interrupted {
                tries += 1;
                let patient =
                    report && (tries < REPORTS_MIN_TRIES || first_failure.elapsed() < REPORTS_PATIENCE);
                // Any other error is tried once more, as a report that
                // outlasted the patience is.
                if !patient && tries > 1 {
                    if report {
                        self.lasting = err.raw_os_error();
                    }
                    return Err(err);
                }
            }
            match send() {
                Ok(()) => {
                    self.lasting = None;
                    return Ok(());
                }
                Err(again) => err = again,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn os_error(errno: nix::errno::Errno) -> io::Error {
        io::Error::from_raw_os_error(errno as i32)
    }

    /// Fails with `errors` in turn, then succeeds; counts the calls.
    fn failing(errors: Vec<io::Error>, calls: &mut usize) -> impl FnMut() -> io::Result<()> + '_ {
        let mut errors = errors.into_iter();
        move || {
            *calls += 1;
            errors.next().map_or(Ok(()), Err)
        }
    }

    #[test]
    #[cfg(unix)]
    fn a_long_run_of_reports_of_earlier_datagrams_delays_the_send_but_does_not_fail_it() {
        use nix::errno::Errno;
        let mut reports = Reports::default();
        let mut calls = 0;
        let refused = (0..5_000).map(|_| os_error(Errno::ECONNREFUSED)).collect();
        let sent = reports.retry(os_error(Errno::ECONNREFUSED), failing(refused, &mut calls));
        assert!(sent.is_ok(), "{sent:?}");
        assert_eq!(calls, 5_001);
    }

    #[test]
    #[cfg(unix)]
    fn an_error_that_outlasts_the_patience_fails_the_line_and_later_lines_try_twice() {
        use nix::errno::Errno;
        let mut reports = Reports::default();
        let started = Instant::now();
        let mut calls = 0;
        let unreachable = || os_error(Errno::ENETUNREACH);
        let sent = reports.retry(unreachable(), || {
            calls += 1;
            Err(unreachable())
        });
        assert_eq!(sent.unwrap_err().raw_os_error(), Some(Errno::ENETUNREACH as i32));
        assert!(calls >= REPORTS_MIN_TRIES as usize && started.elapsed() >= REPORTS_PATIENCE);
        assert_eq!(reports.lasting, Some(Errno::ENETUNREACH as i32));

        let mut calls = 0;
        let next = reports.retry(unreachable(), failing(vec![unreachable()], &mut calls));
        assert!(next.is_err());
        assert_eq!(calls, 1, "one retry");
        // Another error is a report until it lasts, and a send that goes ends it all.
        let mut calls = 0;
        let other = reports.retry(os_error(Errno::ECONNREFUSED), failing(Vec::new(), &mut calls));
        assert!(other.is_ok());
        assert_eq!(reports.lasting, None);
    }

    #[test]
    fn a_full_queue_is_not_retried_and_other_errors_are_retried_once() {
        #[cfg(unix)]
        let full = io::Error::from_raw_os_error(nix::errno::Errno::ENOBUFS as i32);
        #[cfg(windows)]
        let full = io::Error::from_raw_os_error(10055);
        let mut reports = Reports::default();
        let mut calls = 0;
        let dropped = reports.retry(full, failing(Vec::new(), &mut calls));
        assert!(dropped.unwrap_err().to_string().contains("--rate helps"));
        assert_eq!(calls, 0);

        let denied = || io::Error::from(io::ErrorKind::PermissionDenied);
        let mut calls = 0;
        let failed = reports.retry(denied(), failing(vec![denied(), denied()], &mut calls));
        assert_eq!(failed.unwrap_err().kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(calls, 1);
        let mut calls = 0;
        let interrupted = (0..3)
            .map(|_| io::Error::from(io::ErrorKind::Interrupted))
            .collect();
        assert!(reports.retry(denied(), failing(interrupted, &mut calls)).is_ok());
        assert_eq!(calls, 4, "an interrupted send is no try");
    }
}
