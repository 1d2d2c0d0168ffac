//! The library's error type: every failure names the operation and the value involved.

use std::io;
use std::net::SocketAddr;

/// Why udpchat could not start or had to stop.
///
/// Messages are lowercase and carry the address or line they are about, so
/// `main` can print them after `udpchat: ` as one sentence.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `HOST:PORT` (or bind address) that does not parse.
    #[error("invalid address '{input}': {reason}")]
    InvalidAddress {
        /// The text the user gave, unchanged.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A host name that the resolver could not turn into an address.
    #[error("cannot resolve '{input}': {source}")]
    Resolve {
        /// The `HOST:PORT` the user gave.
        input: String,
        /// The resolver's error.
        source: io::Error,
    },

    /// The bind address and the peer belong to different IP families.
    #[error("cannot reach {peer} from a socket bound to {bind}: the addresses are of different IP families")]
    FamilyMismatch {
        /// The local address asked for.
        bind: SocketAddr,
        /// The peer it cannot reach.
        peer: SocketAddr,
    },

    /// Creating, configuring or binding the socket failed.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The local address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },

    /// A `--interface` that does not name an interface of this host, or not
    /// one the room's IP family can use.
    #[error("invalid interface '{input}': {reason}")]
    Interface {
        /// The interface as the user gave it.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Setting up a broadcast or multicast room failed, e.g. joining the group.
    #[error("cannot {action}: {source}")]
    Room {
        /// What was being done, naming the group or address and the interface.
        action: String,
        /// The operating system's error.
        source: io::Error,
    },

    /// Any other failing operation on the socket, stdin, stdout or a thread.
    #[error("cannot {op}: {source}")]
    Io {
        /// What was being done, e.g. `"read standard input"`.
        op: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
}

impl Error {
    /// True when the user's input was at fault rather than the system, so the
    /// binary can exit with the usage status (2) instead of the runtime one (1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::InvalidAddress { .. } | Error::FamilyMismatch { .. } | Error::Interface { .. }
        )
    }

    pub(crate) fn io(op: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Io { op, source }
    }
}
