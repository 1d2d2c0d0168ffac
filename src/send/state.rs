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
use std::thread;
use std::time::{Duration, Instant};

use log::{error, trace};

use crate::net;
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
    /// The number of the last line read, from 1.
    number: u64,
    unsent: Unsent,
    stop: StopLine,
}

impl Sending {
    /// The state before the first line, for lines sealed by `sealer` and
    /// sent to `peers`, at least `interval` apart if given.
    pub fn new(
        socket: UdpSocket,
        peers: Vec<SocketAddr>,
        sealer: Sealer,
        interval: Option<Duration>,
        stop: StopLine,
    ) -> Sending {
        let limit = sealer.max_line(peers.iter().map(net::max_payload).min().unwrap_or(0));
        Sending {
            socket,
            peers,
            sealer,
            limit,
            pacer: interval.map(Pacer::new),
            number: 0,
            unsent: Unsent::default(),
            stop,
        }
    }

    /// The largest line that fits in one datagram to every peer.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A line was read: it waits for its turn, is sealed and sent to every
    /// peer. Continues with the bytes sent, or `None` for a line that could
    /// not be sent (counted and told, see [`Unsent`]); breaks when the chat
    /// is stopping.
    ///
    /// This, [`fits`](Self::fits) and [`seal_and_send`](Self::seal_and_send)
    /// are the per-line path, inlined into the loop as they were when they
    /// were one function: called out of line they cost about 30 instructions
    /// a line more (callgrind: 690 a line against 660).
    #[inline(always)]
    pub fn line(&mut self, line: Line<'_>) -> ControlFlow<(), Option<usize>> {
        if self.stop.is_stopping() {
            return Break(());
        }
        self.number += 1;
        let sent = match line {
            Line::Fits(bytes) => self.fits(bytes)?,
            Line::TooLong(len) => {
                let kind = self.sealer.kind();
                self.failed(format!(
                    "{len} bytes do not fit in one {kind}datagram (at most {})",
                    self.limit
                ));
                None
            }
        };
        self.unsent.tell_if_due();
        Continue(sent)
    }

    /// A line that fits a datagram: sent in its turn, as [`line`](Self::line) says.
    #[inline(always)]
    fn fits(&mut self, bytes: &[u8]) -> ControlFlow<(), Option<usize>> {
        if let Some(pacer) = &mut self.pacer {
            pacer.wait();
            if self.stop.is_stopping() {
                return Break(());
            }
        }
        match self.seal_and_send(bytes) {
            Ok(()) => {
                trace!("line {} sent: {} bytes", self.number, bytes.len());
                Continue(Some(bytes.len()))
            }
            Err(reason) => {
                self.failed(reason);
                Continue(None)
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
        for peer in &self.peers {
            let sent = match self.sealer.seal(number, line, peer) {
                Ok(datagram) => send(&self.socket, datagram, *peer).map_err(|err| err.to_string()),
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
        if matches!(stopped, Some(Stop::EndOfInput)) {
            for peer in &self.peers {
                if let Some(Ok(end)) = self.sealer.end(peer) {
                    let _ = send(&self.socket, end, *peer);
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

/// Sends one datagram. An error the kernel left on the socket for an earlier
/// datagram (an ICMP report, see [`net::report_errors`]) is returned by the
/// next send although this datagram has not gone: it is retried once. The
/// receiver reads and tells those reports; a real failure fails twice.
/// A full local queue (`ENOBUFS`) is not retried: the datagram was dropped.
fn send(socket: &UdpSocket, bytes: &[u8], peer: SocketAddr) -> io::Result<()> {
    let mut retried = false;
    loop {
        match socket.send_to(bytes, peer) {
            Ok(_) => return Ok(()),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) if net::is_queue_full(&err) => {
                return Err(io::Error::new(
                    err.kind(),
                    format!("the local network queue is full and dropped it ({err}); --rate helps"),
                ));
            }
            Err(_) if !retried => retried = true,
            Err(err) => return Err(err),
        }
    }
}
