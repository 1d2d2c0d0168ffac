//! One chat endpoint: binds the socket, runs the receiver and sender threads, and decides when to stop.

use std::fmt;
use std::io::{BufRead, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use ipnet::IpNet;
use log::{info, warn};

use crate::Error;
use crate::addr::DEFAULT_PORT;
use crate::display::Style;
use crate::filter::{Heard, SourceFilter};
use crate::net;
use crate::receiver;
use crate::room::{self, Group};
use crate::sender::SenderTask;

/// The SO_RCVBUF asked for by default: large, so a piped file arriving faster
/// than it can be printed waits in the kernel instead of being dropped. Linux
/// grants at most `net.core.rmem_max` (doubled for its own bookkeeping).
pub const DEFAULT_RECV_BUFFER: usize = 4 * 1024 * 1024;

/// Who an endpoint talks to: where each line goes, and who is heard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// Each line goes to every peer. Datagrams from the peers' IP addresses
    /// (from any port) are shown, labelled with their source when there are
    /// several peers.
    Peers(Vec<SocketAddr>),
    /// A LAN broadcast room: each line goes to this address (`255.255.255.255`
    /// or a subnet's broadcast address, with the room's port), and every
    /// member binds `0.0.0.0` on that port. Broadcasts are not routed: the
    /// room is the local network.
    Broadcast(SocketAddrV4),
    /// A multicast room: each line goes to the group, which every member
    /// joins on the group's port.
    Group(Group),
}

impl Destination {
    /// Where lines go from a socket bound to `local`, in the form that socket
    /// sends to (an IPv4 peer mapped into IPv6 for a dual-stack socket).
    fn send_addresses(&self, local: &SocketAddr) -> Result<Vec<SocketAddr>, Error> {
        match self {
            Destination::Peers(peers) if peers.is_empty() => Err(Error::InvalidAddress {
                input: String::new(),
                reason: "no peer given".into(),
            }),
            Destination::Peers(peers) => peers.iter().map(|peer| net::send_address(local, *peer)).collect(),
            Destination::Broadcast(addr) => Ok(vec![SocketAddr::V4(*addr)]),
            Destination::Group(group) => Ok(vec![group.addr]),
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Peers(peers) => {
                let peers: Vec<String> = peers.iter().map(SocketAddr::to_string).collect();
                f.write_str(&peers.join(", "))
            }
            Destination::Broadcast(addr) => write!(f, "the broadcast room {addr}"),
            Destination::Group(group) => write!(f, "the multicast room {}", group.addr),
        }
    }
}

/// What an endpoint does, fixed before it binds.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where each input line is sent, and who is heard.
    pub destination: Destination,
    /// The local address to receive on; port 0 lets the system choose. Only
    /// for peers: a room binds its own port, which its members on this host share.
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
    /// Show datagrams from every host, not only from the peers' IP addresses
    /// (or a room's networks); other hosts' lines are labelled with their address.
    pub accept_any: bool,
    /// The least time between two lines sent (`--rate`), or `None` to send
    /// each line as soon as it is read.
    pub send_interval: Option<Duration>,
    /// For a room: hear only hosts in these networks. Empty, a room hears the
    /// networks of this host's interfaces (its LAN, as it was at start).
    /// Peers are heard by their addresses, and this is not used.
    pub allow: Vec<IpNet>,
}

impl Config {
    /// A chat with `peer`, listening on port 2323 of every local address of
    /// the peer's IP family, as the seed's script does.
    pub fn new(peer: SocketAddr) -> Config {
        Config::peers(vec![peer])
    }

    /// A chat with several peers, listening on port 2323: of every IPv4
    /// address when all peers are IPv4, else of every address (dual-stack).
    pub fn peers(peers: Vec<SocketAddr>) -> Config {
        let any = if peers.iter().all(SocketAddr::is_ipv4) {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        };
        Config {
            destination: Destination::Peers(peers),
            bind: SocketAddr::new(any, DEFAULT_PORT),
            linger: Duration::ZERO,
            recv_only: false,
            recv_buffer: Some(DEFAULT_RECV_BUFFER),
            display: Style::default(),
            accept_any: false,
            send_interval: None,
            allow: Vec::new(),
        }
    }

    /// A broadcast room on `to`'s port, sending to `to`, e.g. `255.255.255.255:2323`.
    pub fn broadcast(to: SocketAddrV4) -> Config {
        Config {
            destination: Destination::Broadcast(to),
            bind: SocketAddr::from((Ipv4Addr::UNSPECIFIED, to.port())),
            ..Config::new(SocketAddr::V4(to))
        }
    }

    /// A multicast room.
    pub fn group(group: Group) -> Config {
        let bind = group.addr;
        Config {
            destination: Destination::Group(group),
            bind,
            ..Config::new(bind)
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
    /// Datagrams received and printed. A room member's own lines, looped
    /// back to it, are neither printed nor counted.
    pub datagrams_received: u64,
    /// Datagrams from hosts not heard (not a peer, not in a room's networks),
    /// not shown (without [`Config::accept_any`]; with it this stays 0).
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

/// Stops the chat with an error if the thread holding it unwinds: a bug in
/// one thread must not leave the chat waiting for a reason to stop that will
/// never come. (The panic message itself is printed by the panic hook.)
struct StopIfPanicking<'a> {
    stop: &'a Sender<Stop>,
    op: &'static str,
}

impl Drop for StopIfPanicking<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            let source = std::io::Error::other("it panicked");
            send_stop(self.stop, Stop::Failed(Error::Io { op: self.op, source }));
        }
    }
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
    /// Sends the lines: a clone of `socket` for peers, a socket of its own in a room.
    sender: UdpSocket,
    local: SocketAddr,
    /// Whether the kernel reports the datagrams it drops for this socket.
    counts_drops: bool,
    /// What a room member knows about itself; `None` for a chat with peers.
    member: Option<room::Member>,
    config: Config,
    stop_tx: Sender<Stop>,
    stop_rx: Receiver<Stop>,
}

impl Chat {
    /// Binds the endpoint's socket, or joins its room. Datagrams that arrive
    /// from now on wait in the kernel until [`run`](Chat::run) prints them.
    pub fn bind(config: Config) -> Result<Chat, Error> {
        let (socket, sender, member) = match &config.destination {
            Destination::Peers(_) => {
                config.destination.send_addresses(&config.bind)?;
                let socket = net::bind(config.bind, config.recv_buffer)?;
                let sender = socket.try_clone().map_err(Error::io("clone the socket"))?;
                (socket, sender, None)
            }
            Destination::Broadcast(to) => room::bind_broadcast(*to, config.recv_buffer)?.split(),
            Destination::Group(group) => room::bind_group(group, config.recv_buffer)?.split(),
        };
        let local = socket.local_addr().map_err(Error::io("read the bound address"))?;
        let counts_drops = net::count_drops(&socket);
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(STOP_QUEUE);
        Ok(Chat {
            socket,
            sender,
            local,
            counts_drops,
            member,
            config,
            stop_tx,
            stop_rx,
        })
    }

    /// The address the endpoint receives on, with the port the system chose.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sends to this one peer instead, e.g. once the other endpoint has bound,
    /// and hears only it.
    pub fn set_peer(&mut self, peer: SocketAddr) {
        self.config.destination = Destination::Peers(vec![peer]);
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
    /// Each line of `input` becomes one datagram to each peer, or to the room;
    /// each datagram received becomes one line of `output`. The sender thread
    /// reading `input` is not waited for when the chat is interrupted (a
    /// blocked read of a terminal cannot be cancelled), hence `'static`; it
    /// sends nothing more.
    pub fn run<R, W>(self, input: R, output: W) -> Result<Summary, Error>
    where
        R: BufRead + Send + 'static,
        W: Write + Send,
    {
        let Chat {
            socket,
            sender,
            local,
            counts_drops,
            member,
            config,
            stop_tx,
            stop_rx,
        } = self;
        let sending_from = sender.local_addr().map_err(Error::io("read the bound address"))?;
        let destinations = config.destination.send_addresses(&sending_from)?;
        let filter = source_filter(&config, member.as_ref());
        match &config.destination {
            Destination::Peers(_) => info!("chatting with {} from {local}", config.destination),
            room => info!(
                "chatting in {room}, receiving on {local}, hearing {}",
                filter.heard()
            ),
        }
        let shared = std::sync::Arc::new(Shared::default());

        let reason = thread::scope(|scope| -> Result<Stop, Error> {
            let receiver_socket = socket.try_clone().map_err(Error::io("clone the socket"))?;
            let receiver_shared = &*shared;
            let receiver_stop = stop_tx.clone();
            let filter = &filter;
            let receiver = thread::Builder::new()
                .name("receiver".into())
                .spawn_scoped(scope, move || {
                    let _bug = StopIfPanicking {
                        stop: &receiver_stop,
                        op: "run the receiver thread",
                    };
                    if let Some(reason) = receiver::run(&receiver_socket, output, filter, receiver_shared) {
                        send_stop(&receiver_stop, reason);
                    }
                })
                .map_err(Error::io("start the receiver thread"))?;

            if !config.recv_only {
                let task = SenderTask {
                    socket: sender,
                    limit: destinations.iter().map(net::max_payload).min().unwrap_or(0),
                    peers: destinations,
                    interval: config.send_interval,
                    input,
                };
                let (shared, stop) = (shared.clone(), stop_tx.clone());
                // Not scoped: on Ctrl-C it may be blocked reading a terminal, and
                // we must not wait for it. The stop flag keeps it from sending more.
                let spawned = thread::Builder::new().name("sender".into()).spawn(move || {
                    let _bug = StopIfPanicking {
                        stop: &stop,
                        op: "run the sender thread",
                    };
                    task.run(&shared, &stop);
                });
                // The receiver runs already: returning here would leave the scope
                // waiting for it forever, so this failure stops it as any other does.
                if let Err(source) = spawned {
                    let failed = Error::Io {
                        op: "start the sender thread",
                        source,
                    };
                    send_stop(&stop_tx, Stop::Failed(failed));
                }
            }

            let reason = wait_for_stop(&stop_rx, config.linger);
            shared.stopping.store(true, Ordering::Release);
            net::wake_receiver(&socket);
            let _ = receiver.join();
            if let Some(membership) = member.as_ref().and_then(|member| member.membership.as_ref()) {
                membership.leave(&socket);
            }
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
                "ignored {} from hosts other than {}",
                count(ignored, "datagram"),
                filter.heard().hosts()
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

/// `1 datagram`, `2 datagrams`: a number and what it counts, read as English.
pub(crate) fn count(number: u64, noun: &str) -> String {
    if number == 1 {
        format!("1 {noun}")
    } else {
        format!("{number} {noun}s")
    }
}

/// Who is heard, and how lines are labelled: the peers' addresses; or in a
/// room, the networks of `--allow` or else this host's, never its own echoes.
fn source_filter(config: &Config, member: Option<&room::Member>) -> SourceFilter {
    let local = member.map_or(&[][..], |member| &member.local[..]);
    let mut accept_any = config.accept_any;
    let heard = match &config.destination {
        Destination::Peers(peers) => Heard::Peers(peers.clone()),
        _ if !config.allow.is_empty() => Heard::Networks(config.allow.clone()),
        room => {
            let ipv4 = match room {
                Destination::Group(group) => group.addr.is_ipv4(),
                _ => true,
            };
            let mut networks: Vec<IpNet> = local
                .iter()
                .map(|addr| addr.net.trunc())
                .filter(|net| matches!(net, IpNet::V4(_)) == ipv4)
                .collect();
            networks.sort();
            networks.dedup();
            if networks.is_empty() {
                warn!("cannot tell which networks are local: the room hears every host");
                accept_any = true;
            }
            Heard::Networks(networks)
        }
    };
    let filter = SourceFilter::hearing(heard, accept_any, config.display.clone());
    match member {
        // A member's lines leave from a port of its own (see room.rs), so
        // those that loop back to it are known by that source address.
        Some(member) => {
            let hosts = local.iter().map(|addr| addr.net.addr()).collect();
            filter.dropping_echoes(member.echo_port, hosts)
        }
        None => filter,
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
