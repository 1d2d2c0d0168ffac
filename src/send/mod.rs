//! Sender thread: reads input lines and sends each as one datagram to each peer, or to the room.

pub(crate) mod lines;

use std::io::{self, BufRead};
use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use log::{error, trace};

use crate::Error;
use crate::net;
use crate::progress::Progress;
use crate::send::lines::{Line, LineReader};
use crate::stop::{Stop, StopLine};
use crate::summary::count;
use crate::throttle::Throttle;
use crate::wire::Sealer;

/// Everything the sender thread needs, moved into it.
pub(crate) struct Sender<R> {
    pub socket: UdpSocket,
    /// Where every line goes: the peers, or the room's broadcast or group address.
    pub peers: Vec<SocketAddr>,
    /// Seals each line into the datagram that goes out.
    pub sealer: Sealer,
    /// The least time between two lines (`--rate`), if any.
    pub interval: Option<Duration>,
    pub input: R,
    /// The sender's counts, written as it goes. The chat reads them when it
    /// ends, even while the sender is still blocked reading a terminal (it
    /// is not waited for then), which is why they are not simply returned.
    pub progress: Progress,
    pub stop: StopLine,
}

impl<R: BufRead> Sender<R> {
    /// Sends every line of input, then tells the chat why it stopped, unless
    /// the chat stopped first (for then nobody is listening).
    pub fn run(self) {
        let stop = self.stop.clone();
        if let Some(reason) = self.send_lines() {
            stop.request(reason);
        }
    }

    fn send_lines(self) -> Option<Stop> {
        let Sender {
            socket,
            peers,
            mut sealer,
            interval,
            input,
            progress,
            stop,
        } = self;
        // The largest line that fits in one datagram to every peer.
        let limit = sealer.max_line(peers.iter().map(net::max_payload).min().unwrap_or(0));
        let mut pacer = interval.map(Pacer::new);
        let mut lines = LineReader::new(input, limit);
        let mut unsent = Unsent::default();
        let mut number = 0u64;
        let stopped = loop {
            let line = match lines.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => break Some(Stop::EndOfInput),
                Err(source) => {
                    break Some(Stop::Failed(Error::Io {
                        op: "read input",
                        source,
                    }));
                }
            };
            if stop.is_stopping() {
                break None;
            }
            number += 1;
            if let (Line::Fits(_), Some(pacer)) = (&line, &mut pacer) {
                pacer.wait();
                if stop.is_stopping() {
                    break None;
                }
            }
            let sent = match line {
                // A line counts as sent when every peer's copy went out.
                Line::Fits(bytes) => match sealer.seal(bytes) {
                    Err(err) => {
                        unsent.failed(number, format!("cannot seal it: {err}"));
                        None
                    }
                    Ok(datagram) => {
                        // Every peer gets its copy; the first failure is the reason told.
                        let mut failed = None;
                        for &peer in &peers {
                            if let Err(err) = send(&socket, datagram, peer) {
                                failed.get_or_insert_with(|| match peers.len() {
                                    1 => err.to_string(),
                                    _ => format!("to {peer}: {err}"),
                                });
                            }
                        }
                        match failed {
                            None => {
                                trace!("line {number} sent: {} bytes", bytes.len());
                                Some(bytes.len())
                            }
                            Some(reason) => {
                                unsent.failed(number, reason);
                                None
                            }
                        }
                    }
                },
                Line::TooLong(len) => {
                    unsent.failed(
                        number,
                        format!(
                            "{len} bytes do not fit in one {}datagram (at most {limit})",
                            sealer.kind()
                        ),
                    );
                    None
                }
            };
            progress.line(lines.last_read(), sent);
            unsent.tell_if_due();
        };
        unsent.tell();
        // A secured chat says the input has ended, so receivers can count
        // lines lost up to the last one.
        if matches!(stopped, Some(Stop::EndOfInput))
            && let Some(Ok(end)) = sealer.end()
        {
            for &peer in &peers {
                let _ = send(&socket, end, peer);
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
