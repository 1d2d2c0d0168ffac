//! The socket and the few calls on it that differ by platform: bind, addresses, wake.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};

use log::{debug, info};
use socket2::{Domain, Protocol, Socket, Type};

use crate::Error;

/// Largest UDP payload over IPv4: 65,535 minus 8 (UDP header) and 20 (IP header) bytes.
pub const MAX_PAYLOAD_V4: usize = 65_507;

/// Largest UDP payload over IPv6 without jumbograms: 65,535 minus the 8-byte UDP header
/// (the IPv6 header is not counted in its payload length).
pub const MAX_PAYLOAD_V6: usize = 65_527;

/// Receive buffers hold any datagram, so nothing is ever truncated.
pub const RECV_BUFFER: usize = 65_535;

/// The largest line that fits in one datagram to `peer`.
pub fn max_payload(peer: &SocketAddr) -> usize {
    match peer {
        SocketAddr::V4(_) => MAX_PAYLOAD_V4,
        SocketAddr::V6(v6) if v6.ip().to_ipv4_mapped().is_some() => MAX_PAYLOAD_V4,
        SocketAddr::V6(_) => MAX_PAYLOAD_V6,
    }
}

/// Creates the one UDP socket of an endpoint.
///
/// An IPv6 socket is made dual-stack, so `[::]` also hears IPv4 peers.
/// `recv_buffer` asks for an `SO_RCVBUF`; the kernel may grant less (Linux caps
/// it at `net.core.rmem_max`, then doubles it for its own bookkeeping).
pub fn bind(addr: SocketAddr, recv_buffer: Option<usize>) -> Result<UdpSocket, Error> {
    bind_socket(addr, recv_buffer, false)
}

/// Like [`bind`], but other sockets may bind the same port too, so several
/// udpchats on one host can be members of one room: each of them gets every
/// broadcast and multicast datagram. That takes `SO_REUSEADDR` on Linux and
/// `SO_REUSEPORT` on the BSDs and macOS; both are set where they exist. (Linux
/// shares a port only between sockets of the same user with `SO_REUSEPORT`.)
pub fn bind_shared(addr: SocketAddr, recv_buffer: Option<usize>) -> Result<UdpSocket, Error> {
    bind_socket(addr, recv_buffer, true)
}

fn bind_socket(addr: SocketAddr, recv_buffer: Option<usize>, shared: bool) -> Result<UdpSocket, Error> {
    let fail = |source| Error::Bind { addr, source };
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)).map_err(fail)?;
    if shared {
        socket.set_reuse_address(true).map_err(fail)?;
        #[cfg(all(
            unix,
            not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
        ))]
        socket.set_reuse_port(true).map_err(fail)?;
    }
    if addr.is_ipv6() {
        // Not fatal: some systems have no IPv4 stack, and then v6-only is all there is.
        if let Err(err) = socket.set_only_v6(false) {
            debug!("cannot make {addr} dual-stack: {err}");
        }
    }
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).map_err(fail)?;
    }
    socket.bind(&addr.into()).map_err(fail)?;
    let socket = UdpSocket::from(socket);
    info!(
        "bound {}, receive buffer {} bytes",
        socket.local_addr().map_err(fail)?,
        socket2::SockRef::from(&socket).recv_buffer_size().map_err(fail)?
    );
    Ok(socket)
}

/// An address the kernel reports a datagram from, with IPv4-mapped IPv6
/// addresses (seen on dual-stack sockets) turned back into IPv4. Other IPv6
/// addresses keep their scope id: a link-local source is only known by it.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// The address to `send_to` for `peer` from a socket bound to `local`: a
/// dual-stack IPv6 socket reaches IPv4 peers through their mapped address.
/// One bound to a particular IPv6 address (`[::1]`) cannot, so that is a
/// mistake to report at once rather than a "network unreachable" per line.
pub fn send_address(local: &SocketAddr, peer: SocketAddr) -> Result<SocketAddr, Error> {
    match (local, peer) {
        (SocketAddr::V6(v6), SocketAddr::V4(_))
            if !v6.ip().is_unspecified() && v6.ip().to_ipv4_mapped().is_none() =>
        {
            Err(Error::FamilyMismatch { bind: *local, peer })
        }
        (SocketAddr::V6(_), SocketAddr::V4(v4)) => {
            Ok(SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port()))
        }
        (SocketAddr::V4(_), SocketAddr::V6(_)) => Err(Error::FamilyMismatch { bind: *local, peer }),
        _ => Ok(peer),
    }
}

/// True for the errors an ICMP "port unreachable" from an absent peer turns
/// into: `ECONNREFUSED` on Linux (when the kernel reports it at all on an
/// unconnected socket) and `WSAECONNRESET` (10054) from `recv_from` on Windows.
/// See: https://github.com/rust-lang/rust/issues/128072
pub fn is_peer_unreachable(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
    )
}

/// Wakes a receiver blocked in [`Inbox::recv`](crate::inbox::Inbox::recv) so it can see it is time to stop,
/// without it ever having polled.
///
/// On Linux, `shutdown(SHUT_RD)` does it even on an unconnected UDP socket: the
/// kernel marks the socket, wakes every reader, and `recv` returns 0 bytes with
/// no source address. It also returns `ENOTCONN`, which we ignore because the
/// wake-up happened anyway. Elsewhere we send an empty datagram to ourselves.
/// See: https://elixir.bootlin.com/linux/v6.6/source/net/ipv4/af_inet.c (inet_shutdown)
pub fn wake_receiver(socket: &UdpSocket) {
    #[cfg(target_os = "linux")]
    {
        let _ = socket2::SockRef::from(socket).shutdown(std::net::Shutdown::Read);
    }
    #[cfg(not(target_os = "linux"))]
    if let Ok(local) = socket.local_addr() {
        use std::net::{Ipv4Addr, Ipv6Addr};
        let target = match local.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let _ = socket.send_to(&[], SocketAddr::new(target, local.port()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_unmaps_ipv4_and_keeps_an_ipv6_scope_id() {
        let mapped: SocketAddr = "[::ffff:192.168.1.6]:9".parse().unwrap();
        assert_eq!(canonical(mapped).to_string(), "192.168.1.6:9");
        let link_local: SocketAddr = "[fe80::1%3]:9".parse().unwrap();
        assert_eq!(canonical(link_local), link_local);
    }

    #[test]
    fn sends_to_ipv4_only_from_an_ipv4_or_dual_stack_socket() {
        let addr = |text: &str| text.parse::<SocketAddr>().unwrap();
        let peer = addr("192.0.2.1:9");
        let mapped = addr("[::ffff:192.0.2.1]:9");
        assert_eq!(send_address(&addr("0.0.0.0:0"), peer).unwrap(), peer);
        assert_eq!(send_address(&addr("[::]:0"), peer).unwrap(), mapped);
        assert_eq!(send_address(&addr("[::ffff:127.0.0.1]:0"), peer).unwrap(), mapped);
        let mismatch =
            |result: Result<SocketAddr, Error>| matches!(result, Err(Error::FamilyMismatch { .. }));
        assert!(mismatch(send_address(&addr("[::1]:0"), peer)));
        assert!(mismatch(send_address(&addr("127.0.0.1:0"), addr("[::1]:9"))));
    }
}
