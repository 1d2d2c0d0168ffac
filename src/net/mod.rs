//! The socket and the few calls on it that differ by platform: bind, addresses, wake.

pub(crate) mod interfaces;
pub(crate) mod room;

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

/// The smallest receive buffer udpchat asks for. Below it, systems either
/// refuse (FreeBSD takes no 0; Windows takes 0 to mean no buffer at all, so
/// every datagram not awaited is lost) or silently grant their own minimum
/// (Linux: 2,304 bytes): either way not what was asked.
pub const MIN_RECV_BUFFER: usize = 1024;

/// The largest receive buffer udpchat asks for: `SO_RCVBUF` takes a C
/// `int`, which Linux doubles for its bookkeeping, so 1 GiB is the most that
/// survives on every system (4 GiB wrapped to 0, and Linux granted 2,304 bytes).
pub const MAX_RECV_BUFFER: usize = 1 << 30;

/// Creates the one UDP socket of an endpoint.
///
/// An IPv6 socket is made dual-stack, so `[::]` also hears IPv4 peers.
/// `recv_buffer` asks for an `SO_RCVBUF` (see [`set_recv_buffer`]); the
/// kernel may grant less (Linux caps it at `net.core.rmem_max`, then doubles
/// it for its own bookkeeping).
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
        debug!("SO_REUSEADDR on, so other members on this host can bind {addr} too");
        #[cfg(all(
            unix,
            not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
        ))]
        {
            socket.set_reuse_port(true).map_err(fail)?;
            debug!("SO_REUSEPORT on");
        }
    }
    if addr.is_ipv6() {
        // Not fatal: some systems have no IPv4 stack, and then v6-only is all there is.
        match socket.set_only_v6(false) {
            Ok(()) => debug!("IPV6_V6ONLY off: {addr} hears IPv4 too"),
            Err(err) => debug!("cannot make {addr} dual-stack: {err}"),
        }
    }
    if let Some(size) = recv_buffer {
        if !(MIN_RECV_BUFFER..=MAX_RECV_BUFFER).contains(&size) {
            return Err(Error::RecvBufferRange(size));
        }
        set_recv_buffer(&socket, size).map_err(fail)?;
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

/// Asks for a receive buffer of `request` bytes. Where the system refuses
/// that much (`ENOBUFS`: FreeBSD and OpenBSD cap socket buffers at about 2
/// MiB by default, below the default 4 MiB asked for), it takes the largest
/// the system grants instead, and says so at `-v`: the default must never
/// stop a chat from starting.
fn set_recv_buffer(socket: &Socket, request: usize) -> io::Result<()> {
    let taken = largest_accepted(request, |size| socket.set_recv_buffer_size(size))?;
    let granted = socket.recv_buffer_size()?;
    if taken < request {
        info!("the system refuses a receive buffer of {request} bytes; asked for the most it takes, {taken}");
    }
    debug!("SO_RCVBUF: asked for {taken} bytes, granted {granted}");
    Ok(())
}

/// Calls `set` with `request`, and where that fails for want of buffer space
/// ([`is_queue_full`]), finds the largest size it accepts by bisection (a
/// cap such as FreeBSD's, 2 MiB less its bookkeeping, is no round number),
/// and leaves that set. Returns the size set. Other errors are returned.
fn largest_accepted(request: usize, mut set: impl FnMut(usize) -> io::Result<()>) -> io::Result<usize> {
    let refusal = match set(request) {
        Ok(()) => return Ok(request),
        Err(err) if is_queue_full(&err) => err,
        Err(err) => return Err(err),
    };
    // Invariant: `accepted` was taken (0: none yet), `refused` was not.
    let (mut accepted, mut refused) = (0, request);
    let mut last_set = request;
    while refused - accepted > 1 {
        let size = accepted + (refused - accepted) / 2;
        last_set = size;
        match set(size) {
            Ok(()) => accepted = size,
            Err(err) if is_queue_full(&err) => refused = size,
            Err(err) => return Err(err),
        }
    }
    if accepted == 0 {
        return Err(refusal);
    }
    if last_set != accepted {
        set(accepted)?;
    }
    Ok(accepted)
}

/// Asks the kernel to report errors on `socket` in full, on Linux
/// (`IP_RECVERR`, and `IPV6_RECVERR` for an IPv6 socket). Without it, Linux
/// says nothing on an unconnected UDP socket: a datagram the local queue
/// dropped (a congested link) still counts as sent, and an ICMP "port
/// unreachable" from a peer that is not listening is thrown away. With it,
/// such a send fails with `ENOBUFS`, and ICMP errors are queued with the
/// address they are about, for [`Inbox::errors`](crate::receive::inbox::Inbox::errors);
/// each also fails a later call on the socket, as does taking one from the
/// queue while another waits (the sender retries those sends, see
/// `send::state::Reports`).
/// Returns whether the errors are reported so.
#[cfg(target_os = "linux")]
pub fn report_errors(socket: &UdpSocket) -> bool {
    use nix::sys::socket::{setsockopt, sockopt};
    let ipv6 = socket.local_addr().is_ok_and(|addr| addr.is_ipv6());
    // A dual-stack socket reports IPv4 peers' errors through IP_RECVERR.
    let v4 = setsockopt(socket, sockopt::Ipv4RecvErr, &true);
    let v6 = if ipv6 {
        setsockopt(socket, sockopt::Ipv6RecvErr, &true)
    } else {
        Ok(())
    };
    match v4.and(v6) {
        Ok(()) => {
            debug!(
                "IP_RECVERR{} on: refused and dropped datagrams are reported",
                if ipv6 { " and IPV6_RECVERR" } else { "" }
            );
            true
        }
        Err(err) => {
            log::warn!("cannot ask the kernel to report refused or dropped datagrams (IP_RECVERR): {err}");
            false
        }
    }
}

/// Other systems report what they report without being asked (Windows:
/// `WSAECONNRESET` from `recv_from`, see [`is_peer_unreachable`]; the BSDs:
/// `ENOBUFS` from a send).
#[cfg(not(target_os = "linux"))]
pub fn report_errors(_socket: &UdpSocket) -> bool {
    false
}

/// True for the error of a send the local system dropped for want of buffer
/// space, `ENOBUFS` (`WSAENOBUFS` on Windows): a congested link's queue was
/// full. The datagram did not leave this host.
pub fn is_queue_full(err: &io::Error) -> bool {
    #[cfg(unix)]
    const ENOBUFS: i32 = nix::errno::Errno::ENOBUFS as i32;
    #[cfg(windows)]
    const ENOBUFS: i32 = 10055; // WSAENOBUFS
    #[cfg(not(any(unix, windows)))]
    const ENOBUFS: i32 = -1;
    err.raw_os_error() == Some(ENOBUFS)
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

/// Whether the kernel queues a refused datagram's error with its address
/// (Linux, see [`report_errors`]), so that an error from a receive is only
/// the sign to read that queue.
pub const QUEUES_ERRORS: bool = cfg!(target_os = "linux");

/// True for the errors an ICMP error for an earlier datagram turns into when
/// it fails a later call on the socket (Linux, with [`report_errors`]):
/// port, host or network unreachable, and the rarer codes. Such an error
/// says nothing about the call it failed.
pub fn may_be_icmp_report(err: &io::Error) -> bool {
    use io::ErrorKind::{ConnectionRefused, ConnectionReset, HostUnreachable, NetworkUnreachable};
    if matches!(
        err.kind(),
        ConnectionRefused | ConnectionReset | HostUnreachable | NetworkUnreachable
    ) {
        return true;
    }
    #[cfg(unix)]
    {
        use nix::errno::Errno;
        let rare = [
            Errno::EMSGSIZE,
            Errno::EPROTO,
            Errno::ENOPROTOOPT,
            Errno::EHOSTDOWN,
            Errno::EOPNOTSUPP,
        ];
        #[cfg(target_os = "linux")]
        let rare = [rare.as_slice(), &[Errno::ENONET]].concat();
        err.raw_os_error()
            .is_some_and(|code| rare.iter().any(|rare| *rare as i32 == code))
    }
    #[cfg(not(unix))]
    false
}

/// Wakes a receiver blocked in [`Inbox::recv`](crate::receive::inbox::Inbox::recv) so it can see it is time to stop,
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

    fn no_buffer_space() -> io::Error {
        #[cfg(unix)]
        return io::Error::from_raw_os_error(nix::errno::Errno::ENOBUFS as i32);
        #[cfg(windows)]
        return io::Error::from_raw_os_error(10055);
    }

    #[test]
    fn a_connection_reset_from_a_receive_is_a_peer_not_listening() {
        // Windows' WSAECONNRESET (10054) from recv_from, after an ICMP port unreachable.
        #[cfg(windows)]
        assert!(is_peer_unreachable(&io::Error::from_raw_os_error(10054)));
        assert!(is_peer_unreachable(&io::ErrorKind::ConnectionReset.into()));
        assert!(is_peer_unreachable(&io::ErrorKind::ConnectionRefused.into()));
        assert!(!is_peer_unreachable(&io::ErrorKind::PermissionDenied.into()));
        // And a receive that fails so is only a report: the chat carries on.
        assert!(may_be_icmp_report(&io::ErrorKind::ConnectionReset.into()));
        assert!(!may_be_icmp_report(&io::ErrorKind::PermissionDenied.into()));
    }

    #[test]
    fn a_buffer_too_large_for_the_system_falls_back_to_the_largest_it_takes() {
        // FreeBSD's default cap: 2 MiB of buffer less its bookkeeping share.
        const CAP: usize = 1_864_135;
        let mut calls = Vec::new();
        let mut set = |size: usize| {
            calls.push(size);
            if size <= CAP {
                Ok(())
            } else {
                Err(no_buffer_space())
            }
        };
        assert_eq!(largest_accepted(4 << 20, &mut set).unwrap(), CAP);
        assert_eq!(calls.last(), Some(&CAP), "the size left set is the one returned");
        assert!(calls.len() < 30, "{} calls", calls.len());
    }

    #[test]
    fn a_buffer_the_system_takes_is_asked_for_once() {
        let mut calls = 0;
        let taken = largest_accepted(4 << 20, |_| {
            calls += 1;
            Ok(())
        });
        assert_eq!((taken.unwrap(), calls), (4 << 20, 1));
    }

    #[test]
    fn other_errors_and_a_system_that_takes_no_buffer_at_all_fail() {
        let invalid = largest_accepted(4 << 20, |_| Err(io::ErrorKind::InvalidInput.into()));
        assert_eq!(invalid.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        let none = largest_accepted(4 << 20, |_| Err(no_buffer_space()));
        assert!(is_queue_full(&none.unwrap_err()));
    }

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
