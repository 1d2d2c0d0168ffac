//! One chat endpoint: binds the socket, runs the receiver and sender threads, and decides when to stop.

use std::io::{BufRead, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread::{self, Scope, ScopedJoinHandle};

use log::{info, warn};

use crate::Error;
use crate::config::{Config, Destination};
use crate::net::room::{self, Member};
use crate::net::{self, interfaces};
use crate::progress::Progress;
use crate::receive::drops;
use crate::receive::filter::SourceFilter;
use crate::receive::{Received, Receiver};
use crate::reliable::Outbox;
use crate::send::Sender;
use crate::send::resend;
use crate::stop::{Coordinator, Stop, StopLine};
use crate::summary::{Delivery, Ended, Summary, count};
use crate::wire::{Opener, Sealer};

/// Stops a running [`Chat`] from another thread or a signal handler.
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    stop: StopLine,
    #[cfg(feature = "discover")]
    discovery: Discovery,
}

impl ShutdownHandle {
    /// Ends the chat as Ctrl-C does: pending output is flushed and
    /// [`Chat::run`] returns [`Ended::Interrupted`] promptly, even while the
    /// sender is blocked reading its input. A `Chat::lookup` that waits
    /// (feature `discover`) returns [`Error::Interrupted`]. Calling it again
    /// does nothing more.
    pub fn interrupt(&self) {
        self.stop.request(Stop::Interrupted);
        #[cfg(feature = "discover")]
        self.discovery.cancel.cancel();
    }

    /// Withdraws the chat's name from the LAN now (goodbye packets), waiting
    /// a moment at most (half a second) for them to be sent: for a program
    /// about to exit without [`Chat::run`] returning, as a second Ctrl-C
    /// does. [`Chat::run`] withdraws the name itself when it returns, and so
    /// does dropping the `Chat`. Without a name it does nothing.
    #[cfg(feature = "discover")]
    pub fn withdraw_name(&self) {
        if let Some(advert) = &self.discovery.advert {
            advert.withdraw(crate::discover::WITHDRAW_WAIT);
        }
    }
}

/// A chat's part in discovery: its advertised name, the names of its peers
/// and room members, and the lookups a Ctrl-C cuts short.
#[cfg(feature = "discover")]
#[derive(Clone, Debug, Default)]
struct Discovery {
    advert: Option<std::sync::Arc<crate::discover::Advert>>,
    cancel: crate::discover::Cancel,
}

/// Withdraws the name when the chat is dropped or its run ends, whoever
/// else holds the advertisement (a signal handler's `ShutdownHandle`).
#[cfg(feature = "discover")]
struct Named {
    advert: std::sync::Arc<crate::discover::Advert>,
    /// A room's members are labelled with the names found on the LAN:
    /// browsing goes on while the chat lives.
    _browsing: Option<crate::discover::Interest>,
}

#[cfg(feature = "discover")]
impl Drop for Named {
    fn drop(&mut self) {
        self.advert.withdraw(crate::discover::WITHDRAW_WAIT);
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
/// let mut alice = Chat::bind(Config::peers(vec![loopback], loopback))?;
/// let mut bob = Config::peers(vec![loopback], loopback);
/// bob.recv_only = true;
/// let mut bob = Chat::bind(bob)?;
/// alice.set_peer(bob.local_addr())?;
/// bob.set_peer(alice.local_addr())?;
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
    /// Receives; also sends, for a chat with peers.
    socket: UdpSocket,
    /// Sends the lines: a clone of `socket` for peers, a socket of its own in a room.
    sending: UdpSocket,
    local: SocketAddr,
    /// Where each line goes, in the form `sending` sends to.
    send_to: Vec<SocketAddr>,
    filter: SourceFilter,
    /// Whether the kernel reports the datagrams it drops for this socket.
    counts_drops: bool,
    /// What a room member knows about itself; `None` for a chat with peers.
    member: Option<Member>,
    config: Config,
    coordinator: Coordinator,
    progress: Progress,
    #[cfg(feature = "discover")]
    discovery: Discovery,
    #[cfg(feature = "discover")]
    named: Option<Named>,
    /// Names of the peers added by name, by address.
    #[cfg(feature = "discover")]
    peer_names: std::sync::Arc<crate::discover::Labels>,
}

impl Chat {
    /// The largest datagram a chat sends over IPv4, in bytes: 65,535 minus
    /// the UDP (8) and IP (20) headers. A line that does not fit (sealed, in
    /// a secured chat) is not sent, and counts in
    /// [`Summary::lines_not_sent`].
    pub const MAX_PAYLOAD_V4: usize = net::MAX_PAYLOAD_V4;

    /// The largest datagram a chat sends over IPv6, in bytes: 65,535 minus
    /// the UDP header (IPv6 does not count its own; no jumbograms).
    pub const MAX_PAYLOAD_V6: usize = net::MAX_PAYLOAD_V6;

    /// Binds the endpoint's socket, or joins its room. Datagrams that arrive
    /// from now on wait in the kernel until [`run`](Chat::run) prints them.
    pub fn bind(config: Config) -> Result<Chat, Error> {
        check_reliable(&config)?;
        let (socket, sending, member) = match &config.destination {
            Destination::Peers { peers, bind, .. } => {
                if peers.is_empty() && !has_name(&config) {
                    return Err(Error::NoPeer);
                }
                // Before binding: a family mismatch is the user's mistake, not the socket's.
                send_addresses(bind, peers)?;
                let socket = net::bind(*bind, config.recv_buffer)?;
                let sending = socket.try_clone().map_err(Error::io("clone the socket"))?;
                (socket, sending, None)
            }
            Destination::Broadcast { to, .. } => {
                let joined = room::bind_broadcast(*to, config.recv_buffer)?;
                (joined.socket, joined.sender, Some(joined.member))
            }
            Destination::Group { group, .. } => {
                let joined = room::bind_group(group, config.recv_buffer)?;
                (joined.socket, joined.sender, Some(joined.member))
            }
        };
        let local = socket.local_addr().map_err(Error::io("read the bound address"))?;
        let from = sending
            .local_addr()
            .map_err(Error::io("read the bound address"))?;
        let send_to = match &config.destination {
            Destination::Peers { peers, .. } => send_addresses(&from, peers)?,
            Destination::Broadcast { to, .. } => vec![SocketAddr::V4(*to)],
            Destination::Group { group, .. } => vec![group.addr()],
        };
        let mut filter = SourceFilter::for_chat(&config.destination, config.show_sender, member.as_ref())?;
        if let Destination::Peers { peers, .. } = &config.destination {
            filter = own_echoes_unseen(filter, &local, peers);
        }
        // For a chat with peers, `sending` is `socket`: this asks once.
        net::report_errors(&sending);
        let counts_drops = drops::start_counting(&socket);
        let progress = Progress::new(counts_drops, drops::KernelCount::of(&socket));
        #[cfg(feature = "discover")]
        let (named, discovery, peer_names, filter) = {
            let peer_names = std::sync::Arc::new(crate::discover::Labels::default());
            let named = advertise(&config, &local, &from, member.is_some())?;
            let filter = match &named {
                Some(Named {
                    _browsing: Some(_), ..
                }) => filter.naming(crate::discover::Directory::get().labels()),
                _ => filter.naming(peer_names.clone()),
            };
            let discovery = Discovery {
                advert: named.as_ref().map(|named| named.advert.clone()),
                cancel: crate::discover::Cancel::default(),
            };
            (named, discovery, peer_names, filter)
        };
        Ok(Chat {
            #[cfg(feature = "discover")]
            named,
            #[cfg(feature = "discover")]
            discovery,
            #[cfg(feature = "discover")]
            peer_names,
            counts_drops,
            socket,
            sending,
            local,
            send_to,
            filter,
            member,
            config,
            coordinator: Coordinator::new(),
            progress,
        })
    }

    /// The receive buffer the system granted, in bytes, as it reports it
    /// (Linux reports twice what it lets datagrams use, see
    /// [`Config::recv_buffer`]); `None` where it cannot be read.
    pub fn recv_buffer(&self) -> Option<usize> {
        socket2::SockRef::from(&self.socket).recv_buffer_size().ok()
    }

    /// A handle on the chat's live counts, to read while it runs (see [`Progress`]).
    pub fn progress(&self) -> Progress {
        self.progress.clone()
    }

    /// The address the endpoint receives on, with the port the system chose.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sends to this one peer instead, e.g. once the other endpoint has bound,
    /// and hears only it. A room has no peer: [`Error::NotAPeerChat`].
    pub fn set_peer(&mut self, peer: SocketAddr) -> Result<(), Error> {
        let Destination::Peers {
            peers, accept_any, ..
        } = &mut self.config.destination
        else {
            return Err(Error::NotAPeerChat);
        };
        self.send_to = send_addresses(&self.local, &[peer])?;
        *peers = vec![peer];
        let destination = Destination::Peers {
            peers: vec![peer],
            bind: self.local,
            accept_any: *accept_any,
        };
        self.filter = own_echoes_unseen(
            SourceFilter::for_chat(&destination, self.config.show_sender, None)?,
            &self.local,
            &[peer],
        );
        self.config.destination = destination;
        Ok(())
    }

    /// Looks for the udpchat that answers to `name` on the LAN, as
    /// [`discover::lookup`](crate::discover::lookup) does, but never finds
    /// this chat itself, and returns [`Error::Interrupted`] as soon as the
    /// chat's [`ShutdownHandle`] is used (Ctrl-C).
    #[cfg(feature = "discover")]
    pub fn lookup(
        &self,
        name: &str,
        wait: Option<std::time::Duration>,
    ) -> Result<Vec<crate::discover::Found>, Error> {
        let own = self.discovery.advert.as_ref().map(|advert| advert.id());
        crate::discover::find(name, wait, Some(&self.discovery.cancel), own)
    }

    /// Adds a peer found by name: lines go to it too, its lines are heard,
    /// and labelled with its name where they would be with its address.
    /// Returns the address chosen: one the socket can reach (IPv4 first).
    /// A peer at that address already is only given the name.
    #[cfg(feature = "discover")]
    pub fn add_peer(&mut self, found: &crate::discover::Found) -> Result<SocketAddr, Error> {
        let Destination::Peers {
            peers, accept_any, ..
        } = &self.config.destination
        else {
            return Err(Error::NotAPeerChat);
        };
        let peer = found.addr_for(&self.local).ok_or_else(|| Error::Discovery {
            op: "reach a peer found by name",
            problem: format!(
                "{} has no address that a socket bound to {} can reach ({})",
                found.shown_name(),
                self.local,
                found
                    .addrs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        let mut peers = peers.clone();
        if !peers.contains(&peer) {
            peers.push(peer);
        }
        self.send_to = send_addresses(&self.local, &peers)?;
        let destination = Destination::Peers {
            peers: peers.clone(),
            bind: self.local,
            accept_any: *accept_any,
        };
        self.peer_names.insert(&net::canonical(peer), &found.name);
        self.filter = own_echoes_unseen(
            SourceFilter::for_chat(&destination, self.config.show_sender, None)?
                .naming(self.peer_names.clone()),
            &self.local,
            &peers,
        );
        self.config.destination = destination;
        Ok(peer)
    }

    /// A handle that stops [`run`](Chat::run) from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            stop: self.coordinator.line(),
            #[cfg(feature = "discover")]
            discovery: self.discovery.clone(),
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
            sending,
            local,
            send_to,
            filter,
            counts_drops,
            member,
            config,
            coordinator,
            progress,
            #[cfg(feature = "discover")]
            named,
            #[cfg(feature = "discover")]
                discovery: _,
            #[cfg(feature = "discover")]
                peer_names: _,
        } = self;
        if matches!(&config.destination, Destination::Peers { peers, .. } if peers.is_empty()) {
            return Err(Error::NoPeer);
        }
        let sealer = sealer(&config)?;
        let secured = match sealer {
            Sealer::Plain => "not secured: lines go as plain text",
            #[cfg(feature = "secure")]
            Sealer::Sealed(_) => "secured: lines are sealed with the secret",
        };
        match &config.destination {
            Destination::Peers { .. } => {
                info!("chatting with {} from {local}, {secured}", config.destination)
            }
            room => info!(
                "chatting in {room}, receiving on {local}, hearing {}, {secured}",
                filter.heard()
            ),
        }
        // Confirmed delivery: the lines in flight, and the thread that resends them.
        let outbox = match (config.reliable, sealer.session()) {
            (Some(reliable), Some(session)) if !config.recv_only => Some(Arc::new(Outbox::new(
                session,
                &send_to,
                reliable,
                progress.clone(),
            ))),
            _ => None,
        };
        if let Some(outbox) = &outbox {
            let socket = sending.try_clone().map_err(Error::io("clone the socket"))?;
            resend::start(outbox.clone(), sealer.twin(), socket, coordinator.line());
        }
        let receiver = Receiver {
            socket: &socket,
            output,
            filter: &filter,
            style: config.display,
            opener: opener(
                &config,
                &sealer,
                &local,
                &send_to,
                member.as_ref(),
                outbox.clone(),
            ),
            counts_drops,
            destinations: &send_to,
            progress: progress.clone(),
            stop: coordinator.line(),
        };
        let sender = (!config.recv_only).then(|| Sender {
            socket: sending,
            peers: send_to.clone(),
            sealer,
            interval: config.send_interval,
            skip_empty: config.skip_empty,
            input,
            progress: progress.clone(),
            outbox: outbox.clone(),
            stop: coordinator.line(),
        });
        let (reason, received) = thread::scope(|scope| -> Result<(Stop, Received), Error> {
            let receiver = start_receiver(scope, receiver)?;
            if let Some(sender) = sender {
                start_sender(sender);
            }
            let reason = coordinator.wait(config.linger);
            coordinator.stop_all();
            if let Some(outbox) = &outbox {
                outbox.stop();
            }
            net::wake_receiver(&socket);
            // A panic in the receiver was caught, and reported as the reason.
            let received = receiver.join().ok().flatten().unwrap_or_default();
            Ok((reason, received))
        })?;
        if let Some(membership) = member.as_ref().and_then(|member| member.membership.as_ref()) {
            membership.leave(&socket);
        }
        // Goodbye packets, before the summary: the chat has ended.
        #[cfg(feature = "discover")]
        drop(named);
        if received.ignored > 0 {
            info!(
                "ignored {} from hosts other than {}",
                count(received.ignored, "datagram"),
                filter.heard().hosts()
            );
        }
        let delivery = outbox.map(|outbox| outbox.report());
        outcome(reason, &progress, received, delivery)
    }
}

/// Confirmed delivery needs a secret, for its acknowledgements must be
/// authenticated, and peers: a room has no list of members to confirm
/// each line to.
fn check_reliable(config: &Config) -> Result<(), Error> {
    if config.reliable.is_none() {
        return Ok(());
    }
    #[cfg(feature = "secure")]
    let secured = config.secret.is_some();
    #[cfg(not(feature = "secure"))]
    let secured = false;
    if !secured {
        return Err(Error::Reliable(
            "--reliable needs a secret (--secret-file or UDPCHAT_SECRET): acknowledgements \
             must be authenticated, or anyone on the LAN could claim a line arrived",
        ));
    }
    if !matches!(config.destination, Destination::Peers { .. }) {
        return Err(Error::Reliable(
            "--reliable is for chats with peers, not rooms: a room has no list of members \
             to confirm each line to",
        ));
    }
    Ok(())
}

/// Whether the chat advertises a name (and so may bind before it has peers).
fn has_name(config: &Config) -> bool {
    #[cfg(feature = "discover")]
    return config.name.is_some();
    #[cfg(not(feature = "discover"))]
    {
        let _ = config;
        false
    }
}

/// Advertises the chat's name, if it has one, for the chat bound to
/// `local`, sending from `from`. A room member advertises its sending port
/// too, and keeps browsing, so that members are labelled with their names.
#[cfg(feature = "discover")]
fn advertise(
    config: &Config,
    local: &SocketAddr,
    from: &SocketAddr,
    room: bool,
) -> Result<Option<Named>, Error> {
    let Some(name) = &config.name else {
        return Ok(None);
    };
    // A room binds its group's address, or a wildcard: advertise this
    // host's addresses of the room's family.
    let bound = if room || local.ip().is_multicast() {
        match local {
            SocketAddr::V4(_) => std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        }
    } else {
        local.ip()
    };
    #[cfg(feature = "secure")]
    let secured = config.secret.is_some();
    #[cfg(not(feature = "secure"))]
    let secured = false;
    let record = crate::discover::Record {
        port: local.port(),
        bound,
        secured,
        sending_port: room.then_some(from.port()),
    };
    let advert = std::sync::Arc::new(crate::discover::Advert::start(name, &record)?);
    let browsing = if room {
        Some(crate::discover::Directory::get().interest()?)
    } else {
        None
    };
    Ok(Some(Named {
        advert,
        _browsing: browsing,
    }))
}

/// Hides the chat's own lines when a peer is its own address, as `udpchat
/// 127.0.0.1:2323` on the default `0.0.0.0:2323` is: each line comes back,
/// and would be shown as the peer's. Says so, for that is never meant.
fn own_echoes_unseen(filter: SourceFilter, local: &SocketAddr, peers: &[SocketAddr]) -> SourceFilter {
    let own: Vec<std::net::IpAddr> = peers
        .iter()
        .map(|peer| net::canonical(*peer))
        .filter(|peer| peer.port() == local.port() && is_own_address(local, peer.ip()))
        .map(|peer| peer.ip())
        .collect();
    if own.is_empty() {
        return filter;
    }
    let port = local.port();
    warn!(
        "{}:{port} is this chat's own address, so its lines come back to it (they are not shown); \
         to chat on one machine, give each side a port of its own: \
         udpchat -b 127.0.0.1:{other} 127.0.0.1:{port}, and udpchat -b 127.0.0.1:{port} 127.0.0.1:{other}",
        own[0],
        other = port.wrapping_add(1).max(1)
    );
    filter.dropping_echoes(port, own)
}

/// Whether `ip` reaches a socket bound to `local`: its own address, or with
/// `local` unspecified (`0.0.0.0`, `[::]`), any address of this host.
fn is_own_address(local: &SocketAddr, ip: std::net::IpAddr) -> bool {
    let bound = local.ip().to_canonical();
    if !bound.is_unspecified() {
        return bound == ip;
    }
    // [::] is dual-stack, so IPv4 addresses reach it too.
    if bound.is_ipv4() && !ip.is_ipv4() {
        return false;
    }
    ip.is_loopback() || interfaces::local_addrs().iter().any(|addr| addr.net.addr() == ip)
}

/// What [`Chat::run`] returns once the chat has stopped for `reason`.
fn outcome(
    reason: Stop,
    progress: &Progress,
    received: Received,
    delivery: Option<Delivery>,
) -> Result<Summary, Error> {
    let ended = match reason {
        Stop::EndOfInput => Ended::EndOfInput,
        Stop::Interrupted => Ended::Interrupted,
        Stop::OutputClosed => Ended::OutputClosed,
        Stop::GaveUp => Ended::GaveUp,
        Stop::Failed(err) => return Err(err),
    };
    Ok(Summary {
        ended,
        lines_sent: progress.lines_sent(),
        lines_not_sent: progress.lines_not_sent(),
        lines_skipped: progress.lines_skipped(),
        datagrams_received: received.shown,
        datagrams_ignored: received.ignored,
        datagrams_dropped: received.dropped,
        secured: received.secured,
        datagrams_refused: received.refused,
        delivery,
    })
}

/// Starts the receiver thread, scoped: it borrows the socket and the filter,
/// and the chat waits for it to flush before returning.
fn start_receiver<'scope, W: Write + Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    receiver: Receiver<'scope, W>,
) -> Result<ScopedJoinHandle<'scope, Option<Received>>, Error> {
    let stop = receiver.stop.clone();
    thread::Builder::new()
        .name("receiver".into())
        .spawn_scoped(scope, move || {
            stop.unless_panicking("receiver", || receiver.run())
        })
        .map_err(Error::io("start the receiver thread"))
}

/// Starts the sender thread. It is not scoped: on Ctrl-C it may be blocked
/// reading a terminal, and the chat must not wait for it; the stop channel
/// keeps it from sending more. A failure to start stops the chat, as the
/// receiver runs already.
fn start_sender<R: BufRead + Send + 'static>(sender: Sender<R>) {
    let stop = sender.stop.clone();
    let spawned = thread::Builder::new().name("sender".into()).spawn({
        let stop = stop.clone();
        move || stop.unless_panicking("sender", || sender.run())
    });
    if let Err(source) = spawned {
        stop.request(Stop::Failed(Error::Io {
            op: "start the sender thread",
            source,
        }));
    }
}

/// How lines are sealed: as they are, or with the chat's secret.
fn sealer(config: &Config) -> Result<Sealer, Error> {
    #[cfg(feature = "secure")]
    if let Some(secret) = &config.secret {
        let sealer =
            crate::wire::sealed::Sealer::new(secret).map_err(Error::io("get random bytes for sealing"))?;
        return Ok(Sealer::Sealed(Box::new(sealer)));
    }
    let _ = config;
    Ok(Sealer::Plain)
}

/// How datagrams are opened: as they are, or with the chat's secret,
/// refusing those of `sealer`, this chat's own, should they come back, and
/// those not sent to this chat: a chat with peers bound to `local` and
/// sending to `send_to`, or a room (`member`).
fn opener(
    config: &Config,
    sealer: &Sealer,
    local: &SocketAddr,
    send_to: &[SocketAddr],
    member: Option<&Member>,
    outbox: Option<Arc<Outbox>>,
) -> Opener {
    #[cfg(feature = "secure")]
    if let Some(secret) = &config.secret {
        let own = match sealer {
            Sealer::Sealed(sealer) => Some(sealer.session()),
            Sealer::Plain => None,
        };
        let recipient = recipient(config, local, send_to, member);
        let mut opener = crate::wire::open::Opener::new(secret, own, recipient);
        if let Sealer::Sealed(sealer) = sealer {
            opener = opener.acknowledging(sealer.twin(), outbox);
        }
        return Opener::Sealed(Box::new(opener));
    }
    let _ = (config, sealer, local, send_to, member, outbox);
    Opener::Plain
}

/// Where a secured chat's datagrams are sent to (see `wire/addressed.rs`).
#[cfg(feature = "secure")]
fn recipient(
    config: &Config,
    local: &SocketAddr,
    send_to: &[SocketAddr],
    member: Option<&Member>,
) -> crate::wire::addressed::Recipient {
    use crate::wire::addressed::{OwnAddresses, Recipient};
    let v4_networks = || {
        let local = member.map_or(&[][..], |member| &member.local[..]);
        local.iter().filter_map(|addr| match addr.net {
            ipnet::IpNet::V4(net) if net.prefix_len() < 31 => Some(net.broadcast()),
            _ => None,
        })
    };
    match &config.destination {
        Destination::Group { group, .. } => Recipient::Group(without_zone(net::canonical(group.addr()))),
        Destination::Broadcast { to, .. } => Recipient::Broadcast {
            port: to.port(),
            addresses: v4_networks().chain([*to.ip()]).collect(),
        },
        Destination::Peers { .. } => Recipient::Peers {
            sends_to: send_to
                .iter()
                .map(|to| without_zone(net::canonical(*to)))
                .collect(),
            bound: net::canonical(*local),
            reachable_at: config
                .reachable_at
                .iter()
                .map(|at| without_zone(net::canonical(*at)))
                .collect(),
            own: OwnAddresses::new(|| {
                interfaces::local_addrs()
                    .iter()
                    .map(|addr| addr.net.addr().to_canonical())
                    .collect()
            }),
        },
    }
}

/// `addr` as a sealed datagram's `to` holds it: an IPv6 zone is not part of it.
#[cfg(feature = "secure")]
fn without_zone(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip(), addr.port())
}

/// Where lines to `peers` go from a socket bound to `local` (see [`net::send_address`]).
fn send_addresses(local: &SocketAddr, peers: &[SocketAddr]) -> Result<Vec<SocketAddr>, Error> {
    peers.iter().map(|peer| net::send_address(local, *peer)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> Config {
        let loopback = "127.0.0.1:0".parse().unwrap();
        Config::peers(vec![loopback], loopback)
    }

    #[test]
    fn interrupting_again_and_again_queues_only_a_few_stops() {
        let chat = Chat::bind(loopback()).unwrap();
        let handle = chat.shutdown_handle();
        for _ in 0..100_000 {
            handle.interrupt();
        }
        assert_eq!(chat.coordinator.queued(), crate::stop::QUEUE);
        let summary = chat.run(std::io::empty(), std::io::sink()).unwrap();
        assert_eq!(summary.ended, Ended::Interrupted);
    }

    #[test]
    fn a_room_has_no_peer_to_set() {
        // A broadcast room hearing everyone: binding it only sets options on
        // two sockets (a group would need a multicast-capable interface, a
        // LAN to hear the system's list of networks). Nothing is sent.
        let mut room = Chat::bind(Config::with(Destination::Broadcast {
            to: "255.255.255.255:0".parse().unwrap(),
            hears: crate::Hears::Everyone,
        }))
        .unwrap();
        let err = room.set_peer("127.0.0.1:9".parse().unwrap()).unwrap_err();
        assert!(matches!(err, Error::NotAPeerChat), "{err}");
    }

    proptest::proptest! {
        // Each case binds two sockets and runs a chat: fewer cases, still many streams.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        #[test]
        fn any_byte_stream_arrives_as_one_datagram_per_line(input in crate::send::lines::tests::stream()) {
            let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
            // The chat has sent everything when run returns; the datagrams
            // are queued here, or on their way: each is waited for, bounded.
            peer.set_nonblocking(true).unwrap();
            let mut chat = Chat::bind(loopback()).unwrap();
            chat.set_peer(peer.local_addr().unwrap()).unwrap();
            let summary = chat.run(std::io::Cursor::new(input.clone()), std::io::sink()).unwrap();
            let expected = crate::send::lines::tests::reference_lines(&input, Chat::MAX_PAYLOAD_V4);
            proptest::prop_assert_eq!(summary.lines_sent, expected.len() as u64);
            let mut buffer = vec![0; 65_536];
            for line in expected {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                let len = loop {
                    match peer.recv(&mut buffer) {
                        Ok(len) => break len,
                        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                            assert!(std::time::Instant::now() < deadline, "a datagram within 10 s");
                            std::thread::yield_now();
                        }
                        Err(err) => panic!("{err}"),
                    }
                };
                proptest::prop_assert_eq!(Ok(buffer[..len].to_vec()), line);
            }
        }
    }
}
