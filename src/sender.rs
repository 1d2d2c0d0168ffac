//! Sender thread: reads input lines and sends each as one datagram to each peer, or to the room.

use std::io::{self, BufRead};
use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use log::error;

use crate::Error;
use crate::chat::{Shared, Stop};
use crate::lines::{Line, LineReader};
use crate::net;

/// Everything the sender thread needs, moved into it.
pub(crate) struct SenderTask<R> {
    pub socket: UdpSocket,
    /// Where every line goes: the peers, or the room's broadcast or group address.
    pub peers: Vec<SocketAddr>,
    /// The largest line that fits in one datagram to every one of `peers`.
    pub limit: usize,
    /// The least time between two lines (`--rate`), if any.
    pub interval: Option<Duration>,
    pub input: R,
}

impl<R: BufRead> SenderTask<R> {
    /// Sends every line of input, then reports why it stopped.
    pub fn run(self, shared: &Shared, stop: &Sender<Stop>) {
        if let Some(reason) = self.send_lines(shared) {
            crate::chat::send_stop(stop, reason);
        }
    }

    /// Returns `None` when the chat stopped first, for then nobody is listening.
    fn send_lines(self, shared: &Shared) -> Option<Stop> {
        let SenderTask {
            socket,
            peers,
            limit,
            interval,
            input,
        } = self;
        let mut pacer = interval.map(Pacer::new);
        let mut lines = LineReader::new(input, limit);
        let mut number = 0u64;
        loop {
            let line = match lines.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => return Some(Stop::EndOfInput),
                Err(source) => {
                    return Some(Stop::Failed(Error::Io {
                        op: "read input",
                        source,
                    }));
                }
            };
            if shared.is_stopping() {
                return None;
            }
            number += 1;
            if let (Line::Fits(_), Some(pacer)) = (&line, &mut pacer) {
                pacer.wait();
                if shared.is_stopping() {
                    return None;
                }
            }
            let sent = match line {
                // A line counts as sent when every peer's copy went out.
                Line::Fits(bytes) => peers.iter().fold(true, |sent, &peer| {
                    let result = send(&socket, bytes, peer, shared);
                    match &result {
                        Err(err) if peers.len() > 1 => error!("line {number} not sent to {peer}: {err}"),
                        Err(err) => error!("line {number} not sent: {err}"),
                        Ok(()) => {}
                    }
                    sent && result.is_ok()
                }),
                Line::TooLong(len) => {
                    error!(
                        "line {number} not sent: {len} bytes do not fit in one datagram (at most {limit})"
                    );
                    false
                }
            };
            shared.count_line(sent);
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

fn send(socket: &UdpSocket, bytes: &[u8], peer: SocketAddr, shared: &Shared) -> io::Result<()> {
    let mut reported_unreachable = false;
    loop {
        match socket.send_to(bytes, peer) {
            Ok(_) => return Ok(()),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            // The error was left on the socket by an earlier datagram's ICMP reply
            // and is cleared by being reported; this datagram has not gone yet.
            Err(err) if net::is_peer_unreachable(&err) && !reported_unreachable => {
                shared.warn_peer_unreachable(&err);
                reported_unreachable = true;
            }
            Err(err) => return Err(err),
        }
    }
}
