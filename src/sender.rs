//! Sender thread: reads input lines and sends each as one datagram to each peer, or to the room.

use std::io::{self, BufRead};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use log::{error, warn};

use crate::Error;
use crate::lines::{Line, LineReader};
use crate::net;
use crate::stop::{Stop, StopLine};
use crate::wire::Sealer;

/// The sender's counts. The sender writes them as it goes; the chat reads
/// them when it ends, even while the sender is still blocked reading a
/// terminal (it is not waited for then), which is why they are not simply
/// returned.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    sent: AtomicU64,
    not_sent: AtomicU64,
}

impl Tally {
    /// Lines sent, and lines not sent.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.not_sent.load(Ordering::Relaxed),
        )
    }

    fn count(&self, sent: bool) {
        let counter = if sent { &self.sent } else { &self.not_sent };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

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
    pub tally: Arc<Tally>,
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
            tally,
            stop,
        } = self;
        // The largest line that fits in one datagram to every peer.
        let limit = sealer.max_line(peers.iter().map(net::max_payload).min().unwrap_or(0));
        let mut pacer = interval.map(Pacer::new);
        let mut lines = LineReader::new(input, limit);
        let mut unreachable = Unreachable::default();
        let mut number = 0u64;
        loop {
            let line = match lines.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => {
                    // A secured chat says so, so receivers can count lines lost up to the last.
                    if let Some(Ok(end)) = sealer.end() {
                        for &peer in &peers {
                            let _ = send(&socket, end, peer, &mut unreachable);
                        }
                    }
                    return Some(Stop::EndOfInput);
                }
                Err(source) => {
                    return Some(Stop::Failed(Error::Io {
                        op: "read input",
                        source,
                    }));
                }
            };
            if stop.is_stopping() {
                return None;
            }
            number += 1;
            if let (Line::Fits(_), Some(pacer)) = (&line, &mut pacer) {
                pacer.wait();
                if stop.is_stopping() {
                    return None;
                }
            }
            let sent = match line {
                // A line counts as sent when every peer's copy went out.
                Line::Fits(bytes) => match sealer.seal(bytes) {
                    Err(err) => {
                        error!("line {number} not sent: cannot seal it: {err}");
                        false
                    }
                    Ok(datagram) => peers.iter().fold(true, |sent, &peer| {
                        let result = send(&socket, datagram, peer, &mut unreachable);
                        match &result {
                            Err(err) if peers.len() > 1 => error!("line {number} not sent to {peer}: {err}"),
                            Err(err) => error!("line {number} not sent: {err}"),
                            Ok(()) => {}
                        }
                        sent && result.is_ok()
                    }),
                },
                Line::TooLong(len) => {
                    error!(
                        "line {number} not sent: {len} bytes do not fit in one {}datagram (at most {limit})",
                        sealer.kind()
                    );
                    false
                }
            };
            tally.count(sent);
        }
    }
}

/// Says once per chat that the peer is not listening; the chat carries on,
/// because the peer may start later.
#[derive(Default)]
struct Unreachable {
    warned: bool,
}

impl Unreachable {
    fn warn(&mut self, err: &io::Error) {
        if !std::mem::replace(&mut self.warned, true) {
            warn!("peer is not listening (yet?): {err}; still sending and receiving");
        }
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

fn send(socket: &UdpSocket, bytes: &[u8], peer: SocketAddr, unreachable: &mut Unreachable) -> io::Result<()> {
    let mut reported_unreachable = false;
    loop {
        match socket.send_to(bytes, peer) {
            Ok(_) => return Ok(()),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            // The error was left on the socket by an earlier datagram's ICMP reply
            // and is cleared by being reported; this datagram has not gone yet.
            Err(err) if net::is_peer_unreachable(&err) && !reported_unreachable => {
                unreachable.warn(&err);
                reported_unreachable = true;
            }
            Err(err) => return Err(err),
        }
    }
}
