//! What an endpoint does, fixed before it binds: whom it talks to, whom it hears, how it shows lines.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use ipnet::IpNet;

use crate::display::Style;
use crate::net;
use crate::net::room::Group;

/// Who an endpoint talks to, with the settings that only make sense for that
/// kind of chat: where each line goes, where it receives, and who is heard.
///
/// More kinds of chat may come: a `match` on it needs a `_` arm.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Destination {
    /// Each line goes to every peer. Datagrams from the peers' IP addresses
    /// (from any port) are shown, labelled with their source when there are
    /// several peers.
    Peers {
        /// Where each line goes; at least one.
        peers: Vec<SocketAddr>,
        /// The local address to receive on; port 0 lets the system choose.
        bind: SocketAddr,
        /// Also show datagrams from other hosts, each line labelled with its
        /// sender (`--accept-any`).
        accept_any: bool,
    },
    /// A LAN broadcast room: each line goes to `to` (`255.255.255.255` or a
    /// subnet's broadcast address, with the room's port), and every member
    /// binds `0.0.0.0` on that port. Broadcasts are not routed: the room is
    /// the local network.
    Broadcast {
        /// Where each line goes.
        to: SocketAddrV4,
        /// Whose lines are shown.
        hears: Hears,
    },
    /// A multicast room: each line goes to the group, which every member
    /// joins on the group's port.
    Group {
        /// The group, its interface and TTL.
        group: Group,
        /// Whose lines are shown.
        hears: Hears,
    },
}

/// Whose datagrams a room shows; every line is labelled with its sender.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Hears {
    /// Hosts on the networks of this host's interfaces (its LAN), in the
    /// room's IP family, as they were when the room was joined. Binding fails
    /// ([`Error::NoLocalNetworks`](crate::Error::NoLocalNetworks)) where the
    /// system cannot list them.
    #[default]
    LocalNetworks,
    /// Hosts in these networks only (`--allow`).
    Networks(Vec<IpNet>),
    /// Every host (`--accept-any`).
    Everyone,
}

impl Destination {
    /// The default local address for `peers`: port 2323 of every IPv4
    /// address when all peers are IPv4, as the article's script binds, else of
    /// every address (dual-stack, so IPv4 peers are still reached).
    pub fn default_bind(peers: &[SocketAddr]) -> SocketAddr {
        let any = if peers.iter().all(SocketAddr::is_ipv4) {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        };
        SocketAddr::new(any, Config::DEFAULT_PORT)
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Peers { peers, .. } => {
                let peers: Vec<String> = peers.iter().map(SocketAddr::to_string).collect();
                f.write_str(&peers.join(", "))
            }
            Destination::Broadcast { to, .. } => write!(f, "the broadcast room {to}"),
            Destination::Group { group, .. } => write!(f, "the multicast room {}", group.addr()),
        }
    }
}

/// What an endpoint does, fixed before it binds.
///
/// Made by [`Config::new`], [`peers`](Config::peers),
/// [`broadcast`](Config::broadcast), [`group`](Config::group) or
/// [`with`](Config::with), with every other setting at its default; change
/// any of them by assigning its field. New settings may come, so a `Config`
/// cannot be written out field by field (`Config { .. }`) outside this crate.
///
/// ```
/// use std::time::Duration;
/// use udpchat::Config;
///
/// let loopback = "127.0.0.1:0".parse().unwrap();
/// let mut config = Config::peers(vec!["127.0.0.1:2323".parse().unwrap()], loopback);
/// config.linger = Duration::from_secs(1);
/// config.recv_buffer = Some(Config::MIN_RECV_BUFFER);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// Where each input line is sent, where the endpoint receives, and who is heard.
    pub destination: Destination,
    /// How long to keep printing received lines after the input ends.
    pub linger: Duration,
    /// Ignore the input entirely and only print what arrives.
    pub recv_only: bool,
    /// The SO_RCVBUF to ask for, or `None` for the system's default.
    pub recv_buffer: Option<usize>,
    /// Start every line shown with its sender's address, the peer's too
    /// (`--show-sender`). Lines from anyone but the one peer always are.
    pub show_sender: bool,
    /// How each received datagram is shown: sanitizing, time labels, colour,
    /// JSON lines. The default is the plain text the core chat prints.
    pub display: Style,
    /// The least time between two lines sent (`--rate`), or `None` to send
    /// each line as soon as it is read.
    pub send_interval: Option<Duration>,
    /// Do not send empty input lines (`--skip-empty`; the `udpchat` binary
    /// sets it at a terminal). An empty line is an empty datagram, which
    /// `nc -u`, `ncat -u` and `socat` take for the end of their input: `nc -u` stops
    /// printing, `ncat -u` and `socat` exit. Off by default, so a file
    /// piped to another udpchat arrives with its empty lines.
    pub skip_empty: bool,
    /// Seal every line with this secret, and show only lines sealed with it
    /// (`--secret-file`). `None`, the default, is the plain wire format.
    #[cfg(feature = "secure")]
    pub secret: Option<crate::Secret>,
    /// Where senders reach this endpoint besides its own address, through
    /// NAT, a port forward or a relay (`--reachable-at`): a secured chat
    /// with peers takes datagrams sent to these too. Every sealed datagram
    /// names the address it was sent to, and a chat refuses those sent to
    /// another (a datagram of another chat, replayed), so without this a
    /// chat behind NAT would refuse its peer's. Rooms do not use it: a
    /// room's datagrams are sent to the room.
    #[cfg(feature = "secure")]
    pub reachable_at: Vec<SocketAddr>,
    /// Advertise the chat on the LAN under this name (`--name`) while it
    /// runs, with multicast DNS service discovery (feature `discover`; see
    /// [`discover`](crate::discover)), and withdraw it when it ends. One DNS
    /// label: [`discover::check_name`](crate::discover::check_name) says what
    /// a name may be. A chat with a name may bind without peers, and add
    /// those it finds by name ([`Chat::add_peer`](crate::Chat::add_peer)).
    /// `None`, the default, sends no mDNS at all.
    #[cfg(feature = "discover")]
    pub name: Option<String>,
    /// Confirm the delivery of every line (`--reliable`): peers acknowledge
    /// what they wrote, lost lines are sent again, the sender waits for a
    /// peer that cannot keep up, and the [`Summary`](crate::Summary) says
    /// which lines were not delivered. Needs a secret, and peers (not a
    /// room). `None`, the default, sends each line once.
    pub reliable: Option<crate::Reliable>,
}

impl Config {
    /// The port the article's script uses on both hosts, and so udpchat's by
    /// default ([`Destination::default_bind`]).
    pub const DEFAULT_PORT: u16 = 2323;

    /// The SO_RCVBUF asked for by default ([`recv_buffer`](Config::recv_buffer)):
    /// large, so a piped file arriving faster than it can be printed waits in
    /// the kernel instead of being dropped. Linux grants at most
    /// `net.core.rmem_max` (doubled for its own bookkeeping).
    pub const DEFAULT_RECV_BUFFER: usize = 4 * 1024 * 1024;

    /// The smallest [`recv_buffer`](Config::recv_buffer) that can be asked
    /// for. Below it, systems either refuse (FreeBSD takes no 0; Windows takes
    /// 0 to mean no buffer at all, so every datagram not awaited is lost) or
    /// silently grant their own minimum (Linux: 2,304 bytes).
    pub const MIN_RECV_BUFFER: usize = net::MIN_RECV_BUFFER;

    /// The largest [`recv_buffer`](Config::recv_buffer) that can be asked
    /// for: `SO_RCVBUF` takes a C `int`, which Linux doubles for its
    /// bookkeeping, so 1 GiB is the most that survives on every system.
    pub const MAX_RECV_BUFFER: usize = net::MAX_RECV_BUFFER;

    /// A chat with `peer`, listening on port 2323 of every local address of
    /// the peer's IP family, as the article's script does.
    pub fn new(peer: SocketAddr) -> Config {
        Config::peers(vec![peer], Destination::default_bind(&[peer]))
    }

    /// A chat with several peers, receiving on `bind` (see
    /// [`Destination::default_bind`]; port 0 lets the system choose).
    pub fn peers(peers: Vec<SocketAddr>, bind: SocketAddr) -> Config {
        Config::with(Destination::Peers {
            peers,
            bind,
            accept_any: false,
        })
    }

    /// A broadcast room on `to`'s port, sending to `to`, e.g.
    /// `255.255.255.255:2323`, hearing this host's networks.
    pub fn broadcast(to: SocketAddrV4) -> Config {
        Config::with(Destination::Broadcast {
            to,
            hears: Hears::default(),
        })
    }

    /// A multicast room, hearing this host's networks.
    pub fn group(group: Group) -> Config {
        Config::with(Destination::Group {
            group,
            hears: Hears::default(),
        })
    }

    /// `destination`, with every other setting at its default.
    pub fn with(destination: Destination) -> Config {
        Config {
            destination,
            linger: Duration::ZERO,
            recv_only: false,
            recv_buffer: Some(Config::DEFAULT_RECV_BUFFER),
            show_sender: false,
            display: Style::default(),
            send_interval: None,
            skip_empty: false,
            #[cfg(feature = "secure")]
            secret: None,
            #[cfg(feature = "secure")]
            reachable_at: Vec::new(),
            #[cfg(feature = "discover")]
            name: None,
            reliable: None,
        }
    }
}
