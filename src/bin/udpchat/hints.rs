//! What to do about an error that ends udpchat: the `hint:` line printed after it, where udpchat can tell.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use udpchat::Error;

use crate::preflight;

/// An error that ends udpchat, and what to do about it, if udpchat can tell.
pub struct Failure {
    pub error: Error,
    pub hint: Option<String>,
}

impl From<Error> for Failure {
    /// The hints that need nothing but the error.
    fn from(error: Error) -> Failure {
        let hint = match &error {
            Error::SecretFile { source, .. } if source.kind() == io::ErrorKind::NotFound => Some(
                "no such file; to use a passphrase, put it in a file for --secret-file, or in \
                 UDPCHAT_SECRET (--secret-file takes a path, never the secret itself)"
                    .to_owned(),
            ),
            Error::FamilyMismatch { bind, peer } => Some(family_mismatch(bind, peer)),
            Error::Bind { addr, source } if source.kind() == io::ErrorKind::AddrInUse => {
                Some(address_in_use(addr, None))
            }
            _ => None,
        };
        Failure { error, hint }
    }
}

impl Failure {
    /// Binding failed for a chat with `peers` (`None`: a room): a port in
    /// use gets a hint that knows which ports the chat needs.
    pub fn binding(error: Error, peers: Option<&[SocketAddr]>) -> Failure {
        match &error {
            Error::Bind { addr, source } if source.kind() == io::ErrorKind::AddrInUse => Failure {
                hint: Some(address_in_use(addr, peers)),
                error,
            },
            _ => error.into(),
        }
    }
}

/// A peer of one IP family and a bind address of the other: the bind
/// address of the peer's family that works, on loopback if that is where
/// `bind` was.
fn family_mismatch(bind: &SocketAddr, peer: &SocketAddr) -> String {
    let port = bind.port();
    if peer.is_ipv6() {
        let ip = if bind.ip().is_loopback() {
            Ipv6Addr::LOCALHOST
        } else {
            Ipv6Addr::UNSPECIFIED
        };
        format!(
            "{peer} is an IPv6 address: bind an IPv6 one, e.g. -b {}, or leave -b out \
             ([::]:2323 is the default then, and reaches IPv4 peers too)",
            SocketAddr::new(IpAddr::V6(ip), port)
        )
    } else {
        let ip = if bind.ip().is_loopback() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        };
        format!(
            "{peer} is an IPv4 address, which a socket on {} cannot reach: bind an IPv4 address \
             or [::] (which reaches both), e.g. -b {}, or leave -b out",
            bind.ip(),
            SocketAddr::new(ip, port)
        )
    }
}

/// After "cannot bind ADDR: Address already in use": who has the port, if
/// the system says, and a bind that works now: a port that is free, and
/// none of the ports the chat needs (its peers', on this host or not).
fn address_in_use(addr: &SocketAddr, peers: Option<&[SocketAddr]>) -> String {
    let port = addr.port();
    let holders = preflight::holders_of(port);
    let mut who = if holders.is_empty() {
        format!("another program has UDP port {port}")
    } else {
        format!("UDP port {port} is held by {}", holders.join(", "))
    };
    let Some(peers) = peers else {
        return format!(
            "{who}; every member of a room binds the room's port: end that program, or choose \
             another port for the room"
        );
    };
    let on_loopback = !peers.is_empty() && peers.iter().all(|peer| peer.ip().is_loopback());
    if peers
        .iter()
        .any(|peer| peer.port() == port && (peer.ip().is_loopback() || peer.ip() == addr.ip()))
    {
        who.push_str(", the peer you named: on one machine each side needs a port of its own");
    }
    // On loopback, the other side's command names this one's address; a
    // peer on the LAN needs this host's address, which udpchat cannot
    // tell, and any of its addresses will do: a bare port binds them all.
    let ip = match addr.ip() {
        ip if !ip.is_unspecified() => Some(ip),
        IpAddr::V4(_) if on_loopback => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        IpAddr::V6(_) if on_loopback => Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        _ => None,
    };
    let needed: Vec<u16> = peers.iter().map(SocketAddr::port).collect();
    let Some(free) = free_port_after(SocketAddr::new(ip.unwrap_or(addr.ip()), port), &needed) else {
        let any_port = SocketAddr::new(addr.ip(), 0);
        return format!("{who}; bind another port, e.g. -b {any_port} (-v shows the port it gets)");
    };
    match ip {
        Some(ip) => {
            let bind = SocketAddr::new(ip, free);
            format!(
                "{who}; bind a free port instead, e.g. -b {bind}, and give the other side {bind} as its peer"
            )
        }
        None => format!(
            "{who}; bind a free port instead, e.g. -b {free}, and give the other side this host's address \
             with port {free} as its peer"
        ),
    }
}

/// The first port after `addr`'s that is none of `needed` and that `addr`'s
/// IP can bind now (it is bound for a moment, then released), within the
/// next 100 ports, wrapping past 65535 to 1024.
fn free_port_after(addr: SocketAddr, needed: &[u16]) -> Option<u16> {
    let port = addr.port();
    (port.saturating_add(1)..=u16::MAX)
        .chain(1024..port)
        .filter(|candidate| *candidate != 0 && !needed.contains(candidate))
        .take(100)
        .find(|&candidate| UdpSocket::bind(SocketAddr::new(addr.ip(), candidate)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn in_use(addr: SocketAddr) -> Error {
        Error::Bind {
            addr,
            source: io::ErrorKind::AddrInUse.into(),
        }
    }

    /// Two ports in a row on loopback: the first held by `socket`, the
    /// second free (a moment ago).
    fn held_and_next() -> (UdpSocket, u16) {
        (0..100)
            .find_map(|_| {
                let held = UdpSocket::bind("127.0.0.1:0").unwrap();
                let port = held.local_addr().unwrap().port();
                let next = port.checked_add(1)?;
                UdpSocket::bind(("127.0.0.1", next)).ok()?;
                Some((held, port))
            })
            .expect("two free ports in a row")
    }

    #[test]
    fn a_port_in_use_suggests_a_free_port_that_is_not_the_peers() {
        let (_held, port) = held_and_next();
        let bind = addr(&format!("127.0.0.1:{port}"));
        let peer = addr(&format!("127.0.0.1:{}", port + 1));
        let hint = Failure::binding(in_use(bind), Some(&[peer])).hint.unwrap();
        let suggested = hint
            .split("-b 127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|port| port.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("no -b 127.0.0.1:PORT in {hint:?}"));
        assert!(suggested != port && suggested != port + 1, "{hint}");
        assert!(UdpSocket::bind(("127.0.0.1", suggested)).is_ok(), "{hint}");
        assert!(hint.contains(&format!("give the other side 127.0.0.1:{suggested} as its peer")));
    }

    #[test]
    fn a_default_bind_in_use_suggests_loopback_for_a_peer_on_loopback_and_a_bare_port_for_others() {
        let any = addr("0.0.0.0:2323");
        let local = Failure::binding(in_use(any), Some(&[addr("127.0.0.1:2323")]))
            .hint
            .unwrap();
        assert!(local.contains("the peer you named: on one machine each side needs a port of its own"));
        assert!(local.contains("-b 127.0.0.1:"), "{local}");
        assert!(!local.contains("-b 127.0.0.1:2323,"), "{local}");
        let lan = Failure::binding(in_use(any), Some(&[addr("192.0.2.6:2324")]))
            .hint
            .unwrap();
        assert!(!lan.contains("the peer you named"), "{lan}");
        assert!(lan.contains("this host's address with port"), "{lan}");
        assert!(!lan.contains("-b 2324,"), "{lan}");
    }

    #[test]
    fn a_room_whose_port_is_in_use_is_not_told_to_use_b() {
        let hint = Failure::binding(in_use(addr("0.0.0.0:2323")), None).hint.unwrap();
        assert!(!hint.contains("-b"), "{hint}");
    }

    #[test]
    fn a_family_mismatch_names_the_bind_address_that_works() {
        let hint = |bind: &str, peer: &str| family_mismatch(&addr(bind), &addr(peer));
        assert!(hint("127.0.0.1:4000", "[::1]:5000").contains("-b [::1]:4000"));
        assert!(hint("0.0.0.0:4000", "[fe80::1]:5000").contains("-b [::]:4000"));
        assert!(hint("[::1]:4000", "127.0.0.1:5000").contains("-b 127.0.0.1:4000"));
        assert!(hint("[fd00::1]:4000", "192.0.2.1:5000").contains("-b [::]:4000"));
    }

    #[test]
    fn a_missing_secret_file_says_how_to_give_a_passphrase() {
        let failure = Failure::from(Error::SecretFile {
            path: "correct horse".into(),
            source: io::ErrorKind::NotFound.into(),
        });
        assert!(failure.hint.unwrap().contains("UDPCHAT_SECRET"));
        let unreadable = Failure::from(Error::SecretFile {
            path: "chat.secret".into(),
            source: io::ErrorKind::PermissionDenied.into(),
        });
        assert!(unreadable.hint.is_none());
    }
}
