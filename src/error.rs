//! The library's error type: every failure names the operation and the value involved.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Why udpchat could not start or had to stop.
///
/// Messages are lowercase and carry the address or line they are about, so a
/// program can print them after its name as one sentence:
/// `udpchat: cannot bind 0.0.0.0:2323: Address already in use (os error 98)`.
/// Each variant holds what a caller needs to act on it; the binary decides its
/// exit status from the variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `HOST:PORT` (or bind address) that does not parse.
    #[error("invalid address '{input}': {problem}")]
    InvalidAddress {
        /// The text the user gave, unchanged.
        input: String,
        /// What is wrong with it.
        problem: AddressProblem,
    },

    /// A host name that the resolver could not turn into an address.
    #[error("cannot resolve '{input}': {source}")]
    Resolve {
        /// The `HOST:PORT` the user gave.
        input: String,
        /// The resolver's error.
        source: io::Error,
    },

    /// A chat with peers was given none.
    #[error("no peer given: name at least one HOST:PORT")]
    NoPeer,

    /// [`Chat::set_peer`](crate::Chat::set_peer) was called on a room, which
    /// sends to all its members.
    #[error("a room has no peer to set: it sends to all its members")]
    NotAPeerChat,

    /// The bind address and the peer belong to different IP families.
    #[error("cannot reach {peer} from a socket bound to {bind}: the addresses are of different IP families")]
    FamilyMismatch {
        /// The local address asked for.
        bind: SocketAddr,
        /// The peer it cannot reach.
        peer: SocketAddr,
    },

    /// A receive buffer size outside what every system can take (see
    /// [`Config::MIN_RECV_BUFFER`](crate::Config::MIN_RECV_BUFFER) and
    /// [`Config::MAX_RECV_BUFFER`](crate::Config::MAX_RECV_BUFFER)).
    #[error(
        "a receive buffer of {0} bytes cannot be asked for: it must be from {min} (1K) to {max} (1G) bytes",
        min = crate::net::MIN_RECV_BUFFER,
        max = crate::net::MAX_RECV_BUFFER
    )]
    RecvBufferRange(usize),

    /// Creating, configuring or binding the socket failed.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The local address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },

    /// A multicast room's address that is not a multicast address.
    #[error("{} is not a multicast address (224.0.0.0/4 or ff00::/8), e.g. 239.255.23.23:2323", .0.ip())]
    NotMulticast(SocketAddr),

    /// A `--interface` (or IPv6 zone) that does not name an interface of this
    /// host, or not one the room's IP family can use.
    #[error("invalid interface '{input}': {problem}")]
    Interface {
        /// The interface as the user gave it.
        input: String,
        /// What is wrong with it.
        problem: InterfaceProblem,
    },

    /// A room that hears this host's networks, on a system that cannot list them.
    #[error(
        "cannot tell which networks are this host's: name the hosts to hear (--allow CIDR), or hear every host (--accept-any)"
    )]
    NoLocalNetworks,

    /// Joining a multicast group failed.
    #[error("cannot join the group {group} on {interface}: {source}")]
    Join {
        /// The group's address.
        group: IpAddr,
        /// The interface, as described to the user: `interface eth0`, or
        /// `the system's default interface`.
        interface: String,
        /// The operating system's error.
        source: io::Error,
    },

    /// Setting a socket option a room needs failed, e.g. `SO_BROADCAST`.
    #[error("cannot set {option} for {room}: {source}")]
    RoomOption {
        /// The option, in words: `broadcasts`, `the TTL`.
        option: &'static str,
        /// The group or broadcast address.
        room: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },

    /// Confirmed delivery asked for where it cannot be had: without a
    /// secret (acknowledgements must be authenticated), or in a room (there
    /// is no set of members to confirm each line to).
    #[error("{0}")]
    Reliable(&'static str),

    /// A secret that cannot be used, e.g. an empty one.
    #[error("invalid secret{}: {problem}", origin.as_ref().map(|origin| format!(" in {origin}")).unwrap_or_default())]
    Secret {
        /// Where it came from (a file, a variable), when known.
        origin: Option<String>,
        /// What is wrong with it.
        problem: &'static str,
    },

    /// Argon2 could not derive the key from a passphrase, e.g. for want of memory.
    #[error("cannot derive the key from the passphrase: {problem}")]
    Derive {
        /// What Argon2 reported, in words.
        problem: &'static str,
    },

    /// A secret file that cannot be read, or that is not a regular file.
    #[error("cannot read the secret file {}: {source}", .path.display())]
    SecretFile {
        /// The file, as given.
        path: std::path::PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// A name for the LAN (`--name`, a peer by name) that cannot be one: see
    /// `discover::check_name` (feature `discover`).
    #[error("invalid name '{}': {problem}", crate::display::Style::sanitize_text(name.as_bytes()))]
    InvalidName {
        /// The name as given (shown escaped by the binary).
        name: String,
        /// What is wrong with it.
        problem: &'static str,
    },

    /// Multicast DNS (finding udpchats by name) failed.
    #[error("cannot {op}: {problem}")]
    Discovery {
        /// What was being done, e.g. `"advertise the name"`.
        op: &'static str,
        /// The mDNS stack's words.
        problem: String,
    },

    /// A wait was cut short by a [`ShutdownHandle`](crate::ShutdownHandle)
    /// (Ctrl-C), e.g. while looking for a peer by name.
    #[error("interrupted")]
    Interrupted,

    /// Any other failing operation on the socket, stdin, stdout or a thread.
    #[error("cannot {op}: {source}")]
    Io {
        /// What was being done, e.g. `"read standard input"`.
        op: &'static str,
        /// The operating system's error.
        source: io::Error,
    },

    /// A thread of the chat panicked: a bug in udpchat (or in the input or
    /// output given to [`Chat::run`](crate::Chat::run)). The chat stopped
    /// instead of hanging.
    #[error("the {thread} thread panicked: {message}")]
    Panicked {
        /// `receiver` or `sender`.
        thread: &'static str,
        /// The panic's message, when it had one.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Io { op, source }
    }

    pub(crate) fn address(input: &str, problem: AddressProblem) -> Error {
        Error::InvalidAddress {
            input: input.to_owned(),
            problem,
        }
    }
}

/// What is wrong with an address the user typed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressProblem {
    /// No `:PORT`.
    MissingPort,
    /// `[IPV6]` without `:PORT` after it.
    MissingPortAfterBracket,
    /// Nothing after the last `:`.
    EmptyPort,
    /// A port that is not a number from 0 (for binding) or 1 to 65535.
    BadPort(String),
    /// Port 0 given for a peer, which cannot be sent to.
    PortZero,
    /// `[` without `]`.
    MissingBracket,
    /// What is inside `[...]` is not an IPv6 address.
    NotIpv6(String),
    /// An IPv6 address written without brackets.
    NeedsBrackets,
    /// A `,` in the address: several written as one argument.
    Comma,
    /// Nothing before the `:`.
    MissingHost,
    /// A host that is neither an IP address nor a host name.
    NotAHost(String),
    /// `%` with nothing after it.
    EmptyZone,
    /// An IPv6 zone that names no interface of this host.
    UnknownZone(String),
    /// An IPv6 zone index that no interface of this host has.
    UnknownZoneIndex(u32),
}

impl fmt::Display for AddressProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressProblem::MissingPort => {
                f.write_str("missing port (expected HOST:PORT, e.g. 192.168.1.6:2323)")
            }
            AddressProblem::MissingPortAfterBracket => {
                f.write_str("missing port after ']' (expected [IPV6]:PORT)")
            }
            AddressProblem::EmptyPort => f.write_str("missing port after ':'"),
            AddressProblem::BadPort(port) => write!(f, "port '{port}' is not a number from 1 to 65535"),
            AddressProblem::PortZero => f.write_str("port 0 cannot be sent to"),
            AddressProblem::MissingBracket => f.write_str("missing ']' after the IPv6 address"),
            AddressProblem::NotIpv6(ip) => write!(f, "'{ip}' is not an IPv6 address"),
            AddressProblem::NeedsBrackets => f.write_str("an IPv6 address needs brackets, e.g. [::1]:2323"),
            AddressProblem::Comma => f.write_str(
                "',' is not part of an address: give one address per argument, several peers separated by spaces",
            ),
            AddressProblem::MissingHost => f.write_str("missing host before ':'"),
            AddressProblem::NotAHost(host) => write!(f, "'{host}' is not a host name or IP address"),
            AddressProblem::EmptyZone => f.write_str("empty zone after '%'"),
            AddressProblem::UnknownZone(zone) => write!(f, "no network interface named '{zone}'"),
            AddressProblem::UnknownZoneIndex(index) => write!(f, "no network interface with index {index}"),
        }
    }
}

/// What is wrong with an interface the user named.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InterfaceProblem {
    /// Neither a name, an index nor an IPv4 address.
    Syntax,
    /// No interface of this host has this name.
    NoSuchName(String),
    /// No interface of this host has this index.
    NoSuchIndex(u32),
    /// No interface of this host holds this IPv4 address.
    NotHeld(Ipv4Addr),
    /// The interface has no IPv4 address, which an IPv4 room needs.
    NoIpv4(String),
    /// An IPv4 address given for an IPv6 room.
    Ipv4ForIpv6Room,
    /// This system cannot look interfaces up this way.
    Unsupported(&'static str),
}

impl fmt::Display for InterfaceProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterfaceProblem::Syntax => f.write_str("expected an interface name, index or IPv4 address"),
            InterfaceProblem::NoSuchName(name) => write!(f, "no network interface named '{name}'"),
            InterfaceProblem::NoSuchIndex(index) => write!(f, "no network interface with index {index}"),
            InterfaceProblem::NotHeld(addr) => {
                write!(f, "no network interface of this host has the address {addr}")
            }
            InterfaceProblem::NoIpv4(name) => write!(f, "{name} has no IPv4 address"),
            InterfaceProblem::Ipv4ForIpv6Room => {
                f.write_str("an IPv6 room's interface is a name or an index, e.g. eth0 or 2")
            }
            InterfaceProblem::Unsupported(what) => f.write_str(what),
        }
    }
}
