//! One chat endpoint: binds the socket, runs the receiver and sender threads, and decides when to stop.

use std::io::{BufRead, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use log::{info, warn};

use crate::Error;
use crate::addr::DEFAULT_PORT;
use crate::display::Style;
use crate::filter::SourceFilter;
use crate::net;
use crate::receiver;
use crate::sender::SenderTask;

/// The SO_RCVBUF asked for by default: large, so a piped file arriving faster
/// than it can be printed waits in the kernel instead of being dropped. Linux
/// grants at most `net.core.rmem_max` (doubled for its own bookkeeping).
pub const DEFAULT_RECV_BUFFER: usize = 4 * 1024 * 1024;

/// What an endpoint does, fixed before it binds.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where each input line is sent.
    pub peer: SocketAddr,
    /// The local address to receive on; port 0 lets the system choose.
    pub bind: SocketAddr,
    /// How long to keep printing received lines after the input ends.
    pub linger: Duration,
    /// Ignore the input entirely and only print what arrives.
    pub recv_only: bool,
    /// The SO_RCVBUF to ask for, or `None` for the system's default.
    pub recv_buffer: Option<usize>,
    /// How each received datagram is shown: labels, sanitizing, JSON lines.
    /// The default is the plain text the core chat prints.
    pub display: Style,
    /// Show datagrams from every host, not only from the peer's IP address;
    /// other hosts' lines are labelled with their address.
    pub accept_any: bool,
    /// The least time between two lines sent (`--rate`), or `None` to send
    /// each line as soon as it is read.
    pub send_interval: Option<Duration>,
}

impl Config {
    /// A chat with `peer`, listening on port 2323 of every local address of
    /// the peer's IP family, as the seed's script does.
    pub fn new(peer: SocketAddr) -> Config {
        let any = match peer {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        Config {
            peer,
            bind: SocketAddr::new(any, DEFAULT_PORT),
            linger: Duration::ZERO,
            recv_only: false,
            recv_buffer: Some(DEFAULT_RECV_BUFFER),
            display: Style::default(),
            accept_any: false,
            send_interval: None,
        }
    }
}

/// Why a chat ended without an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The input ended and every line was sent (or reported as not sent).
    EndOfInput,
    /// [`ShutdownHandle::interrupt`] was called, e.g. on Ctrl-C or SIGTERM.
    Interrupted,
    /// The output was closed by its reader (`EPIPE`).
    OutputClosed,
}

/// What a finished chat did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Why it ended.
    pub ended: Ended,
    /// Input lines sent as datagrams.
    pub lines_sent: u64,
    /// Input lines that could not be sent (too long, or refused by the system).
    pub lines_not_sent: u64,
    /// Datagrams received and printed.
    pub datagrams_received: u64,
    /// Datagrams from hosts other than the peer, not shown (without
    /// [`Config::accept_any`]; with it this stays 0).
    pub datagrams_ignored: u64,
    /// Datagrams the kernel dropped before they could be received, because
    /// the receive buffer was full; `None` where the system cannot count them
    /// (it can on Linux).
    pub datagrams_dropped: Option<u64>,
}

/// Why the chat stops; sent to the coordinating thread by whoever noticed.
#[derive(Debug)]
pub(crate) enum Stop {
    EndOfInput,
    Interrupted,
    OutputClosed,
    Failed(Error),
}

/// State the threads share: a stop flag checked after every blocking call, and counters.
#[derive(Default)]
pub(crate) struct Shared {
    stopping: AtomicBool,
    warned_unreachable: AtomicBool,
    lines_sent: AtomicU64,
    lines_not_sent: AtomicU64,
    datagrams_received: AtomicU64,
    datagrams_ignored: AtomicU64,
    datagrams_dropped: AtomicU64,
}

impl Shared {
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    pub fn count_line(&self, sent: bool) {
        let counter = if sent {
            &self.lines_sent
        } else {
            &self.lines_not_sent
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_received(&self) {
        self.datagrams_received.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_ignored(&self) {
        self.datagrams_ignored.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_dropped(&self, datagrams: u64) {
        self.datagrams_dropped.fetch_add(datagrams, Ordering::Relaxed);
    }

    pub fn datagrams_dropped(&self) -> u64 {
        self.datagrams_dropped.load(Ordering::Relaxed)
    }

    /// Says once per chat that the peer is not listening; the chat carries on,
    /// because the peer may start later.
    pub fn warn_peer_unreachable(&self, err: &std::io::Error) {
        if !self.warned_unreachable.swap(true, Ordering::Relaxed) {
            warn!("peer is not listening (yet?): {err}; still sending and receiving");
        }
    }
}

/// Stops a running [`Chat`] from another thread or a signal handler.
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    stop: Sender<Stop>,
}

impl ShutdownHandle {
    /// Ends the chat as Ctrl-C does: pending output is flushed and
    /// [`Chat::run`] returns [`Ended::Interrupted`] promptly, even while the
    /// sender is blocked reading its input. Calling it again does nothing more.
    pub fn interrupt(&self) {
        send_stop(&self.stop, Stop::Interrupted);
    }
}

/// Room in the stop channel. The coordinator acts on the first reason (the
/// second after the end of input with a linger), so a few are plenty; the
/// bound keeps a caller who calls [`ShutdownHandle::interrupt`] in a loop
/// from growing memory.
const STOP_QUEUE: usize = 4;

/// Tells the coordinator why to stop, without ever blocking. When the channel
/// is full, reasons enough are already waiting and this one is not needed; when
/// it is disconnected, the chat has ended.
pub(crate) fn send_stop(stop: &Sender<Stop>, reason: Stop) {
    let _ = stop.try_send(reason);
}

/// A bound chat endpoint, ready to [`run`](Chat::run).
///
/// ```
/// use std::io::{self, BufRead, BufReader, Cursor};
/// use udpchat::{Chat, Config, Ended};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Two endpoints on loopback, each on a port the system picks.
/// let loopback = "127.0.0.1:0".parse()?;
/// let mut alice = Chat::bind(Config { bind: loopback, ..Config::new(loopback) })?;
/// let mut bob = Chat::bind(Config { bind: loopback, recv_only: true, ..Config::new(loopback) })?;
/// alice.set_peer(bob.local_addr());
/// bob.set_peer(alice.local_addr());
///
/// // Bob prints into a pipe until he is stopped; Alice says two lines.
/// let (screen, bob_output) = io::pipe()?;
/// let stop_bob = bob.shutdown_handle();
/// let bob = std::thread::spawn(move || bob.run(io::empty(), bob_output));
/// let said = alice.run(Cursor::new("hello\nbye\n"), io::sink())?;
/// assert_eq!((said.ended, said.lines_sent), (Ended::EndOfInput, 2));
///
/// let heard: Vec<String> = BufReader::new(screen).lines().take(2).collect::<Result<_, _>>()?;
/// assert_eq!(heard, ["hello", "bye"]);
/// stop_bob.interrupt();
/// assert_eq!(bob.join().unwrap()?.ended, Ended::Interrupted);
/// # Ok(())
/// # }
/// ```
pub struct Chat {
    socket: UdpSocket,
    local: SocketAddr,
    /// Whether the kernel reports the datagrams it drops for this socket.
    counts_drops: bool,
    config: Config,
    stop_tx: Sender<Stop>,
    stop_rx: Receiver<Stop>,
}

impl Chat {
    /// Binds the endpoint's socket. Datagrams that arrive from now on wait in
    /// the kernel until [`run`](Chat::run) prints them.
    pub fn bind(config: Config) -> Result<Chat, Error> {
        net::send_address(&config.bind, config.peer)?;
        let socket = net::bind(config.bind, config.recv_buffer)?;
        let local = socket.local_addr().map_err(Error::io("read the bound address"))?;
        let counts_drops = net::count_drops(&socket);
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(STOP_QUEUE);
        Ok(Chat {
            socket,
            local,
            counts_drops,
            config,
            stop_tx,
            stop_rx,
        })
    }

    /// The address the endpoint receives on, with the port the system chose.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Changes where lines are sent, e.g. once the other endpoint has bound.
    pub fn set_peer(&mut self, peer: SocketAddr) {
        self.config.peer = peer;
    }

    /// A handle that stops [`run`](Chat::run) from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            stop: self.stop_tx.clone(),
        }
    }

    /// Chats until the input ends (plus the configured linger), the output is
    /// closed, an error occurs, or the [`ShutdownHandle`] is used.
    ///
    /// Each line of `input` becomes one datagram to the peer; each datagram
    /// received becomes one line of `output`. The sender thread reading `input`
    /// is not waited for when the chat is interrupted (a blocked read of a
    /// terminal cannot be cancelled), hence `'static`; it sends nothing more.
    pub fn run<R, W>(self, input: R, output: W) -> Result<Summary, Error>
    where
        R: BufRead + Send + 'static,
        W: Write + Send,
    {
        let Chat {
            socket,
            local,
            counts_drops,
            config,
            stop_tx,
            stop_rx,
        } = self;
        let peer = net::send_address(&local, config.peer)?;
        let filter = SourceFilter::new(config.peer, config.accept_any, config.display.clone());
        let shared = std::sync::Arc::new(Shared::default());
        info!("chatting with {} from {local}", config.peer);

        let reason = thread::scope(|scope| -> Result<Stop, Error> {
            let receiver_socket = socket.try_clone().map_err(Error::io("clone the socket"))?;
            let receiver_shared = &*shared;
            let receiver_stop = stop_tx.clone();
            let filter = &filter;
            let receiver = thread::Builder::new()
                .name("receiver".into())
                .spawn_scoped(scope, move || {
                    if let Some(reason) = receiver::run(&receiver_socket, output, filter, receiver_shared) {
                        send_stop(&receiver_stop, reason);
                    }
                })
                .map_err(Error::io("start the receiver thread"))?;

            if !config.recv_only {
                let task = SenderTask {
                    socket: socket.try_clone().map_err(Error::io("clone the socket"))?,
                    peer,
                    limit: net::max_payload(&config.peer),
                    interval: config.send_interval,
                    input,
                };
                let (shared, stop) = (shared.clone(), stop_tx.clone());
                // Not scoped: on Ctrl-C it may be blocked reading a terminal, and
                // we must not wait for it. The stop flag keeps it from sending more.
                thread::Builder::new()
                    .name("sender".into())
                    .spawn(move || task.run(&shared, &stop))
                    .map_err(Error::io("start the sender thread"))?;
            }

            let reason = wait_for_stop(&stop_rx, config.linger);
            shared.stopping.store(true, Ordering::Release);
            net::wake_receiver(&socket);
            let _ = receiver.join();
            Ok(reason)
        })?;

        let summary = |ended| Summary {
            ended,
            lines_sent: shared.lines_sent.load(Ordering::Relaxed),
            lines_not_sent: shared.lines_not_sent.load(Ordering::Relaxed),
            datagrams_received: shared.datagrams_received.load(Ordering::Relaxed),
            datagrams_ignored: shared.datagrams_ignored.load(Ordering::Relaxed),
            datagrams_dropped: counts_drops.then(|| shared.datagrams_dropped()),
        };
        let ignored = shared.datagrams_ignored.load(Ordering::Relaxed);
        if ignored > 0 {
            info!(
                "ignored {ignored} datagrams from hosts other than {}",
                filter.peer().ip()
            );
        }
        match reason {
            Stop::EndOfInput => Ok(summary(Ended::EndOfInput)),
            Stop::Interrupted => Ok(summary(Ended::Interrupted)),
            Stop::OutputClosed => Ok(summary(Ended::OutputClosed)),
            Stop::Failed(err) => Err(err),
        }
    }
}

/// Waits for the first reason to stop. After the end of input it goes on
/// receiving for `linger`, unless something else stops the chat sooner.
fn wait_for_stop(stop_rx: &Receiver<Stop>, linger: Duration) -> Stop {
    // We hold a sender ourselves (for shutdown handles), so this cannot disconnect.
    let Ok(first) = stop_rx.recv() else {
        return Stop::Interrupted;
    };
    match first {
        Stop::EndOfInput if !linger.is_zero() => match stop_rx.recv_timeout(linger) {
            Ok(other) => other,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => Stop::EndOfInput,
        },
        first => first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupting_again_and_again_queues_only_a_few_stops() {
        let loopback = "127.0.0.1:0".parse().unwrap();
        let chat = Chat::bind(Config {
            bind: loopback,
            ..Config::new(loopback)
        })
        .unwrap();
        let handle = chat.shutdown_handle();
        for _ in 0..100_000 {
            handle.interrupt();
        }
        assert_eq!(chat.stop_rx.len(), STOP_QUEUE);
        let summary = chat.run(std::io::empty(), std::io::sink()).unwrap();
        assert_eq!(summary.ended, Ended::Interrupted);
    }
}
