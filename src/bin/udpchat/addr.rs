//! `HOST:PORT` as the user types it: parsed and resolved in one place, so every address given on the command line is checked alike.
//!
//! The library takes resolved `SocketAddr`s; turning text into them (names,
//! IPv6 zones written as interface names, a bare port to bind) is the
//! command line's job.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, ToSocketAddrs};
use std::str::FromStr;

use log::warn;
use udpchat::{AddressProblem, Config, Error};

/// A `HOST:PORT` as the user wrote it: its syntax is checked, its host not yet resolved.
///
/// Accepts `192.168.1.6:2323`, `[::1]:2323`, `[fe80::1%eth0]:2323` (an IPv6
/// zone given as an interface name or index) and `pc-b.lan:2323`.
///
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    text: String,
    host: Host,
    port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Host {
    Ip(IpAddr),
    /// An IPv6 address with a `%zone` suffix, which `Ipv6Addr` cannot hold.
    ScopedV6(Ipv6Addr, String),
    Name(String),
}

impl HostPort {
    /// Parses a local address to bind to. Besides `HOST:PORT` it takes a bare
    /// `PORT` (all interfaces of `family_of`'s IP family) and a bare IP address
    /// (port 2323), as `nc -l -p` and `socat UDP-RECV` users expect. Port 0 asks
    /// the system for a free port.
    pub fn parse_bind(text: &str, family_of: &SocketAddr) -> Result<HostPort, Error> {
        let text = text.trim();
        let host = if let Ok(port) = text.parse::<u16>() {
            let any = match family_of {
                SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            };
            return Ok(HostPort {
                text: text.to_owned(),
                host: Host::Ip(any),
                port,
            });
        } else if let Ok(ip) = text.parse::<IpAddr>() {
            Host::Ip(ip)
        } else {
            return parse(text, true);
        };
        Ok(HostPort {
            text: text.to_owned(),
            host,
            port: Config::DEFAULT_PORT,
        })
    }

    /// Turns the host into one socket address, asking the system resolver for
    /// names. A name is resolved once, here: udpchat does not follow DNS changes.
    /// An IPv6 zone, by name or by index, must be one of this host's interfaces.
    pub fn resolve(&self) -> Result<SocketAddr, Error> {
        match &self.host {
            Host::Ip(ip) => Ok(SocketAddr::new(*ip, self.port)),
            Host::ScopedV6(ip, zone) => {
                let scope_id = zone_index(zone).map_err(|problem| invalid(&self.text, problem))?;
                Ok(SocketAddrV6::new(*ip, self.port, 0, scope_id).into())
            }
            Host::Name(name) => {
                let mut addrs =
                    (name.as_str(), self.port)
                        .to_socket_addrs()
                        .map_err(|source| Error::Resolve {
                            input: self.text.clone(),
                            source,
                        })?;
                addrs.next().ok_or_else(|| Error::Resolve {
                    input: self.text.clone(),
                    source: std::io::Error::other("no addresses found"),
                })
            }
        }
    }
}

impl FromStr for HostPort {
    type Err = Error;

    /// Parses a peer: port 0 is refused, since nothing can be sent to it.
    fn from_str(text: &str) -> Result<HostPort, Error> {
        parse(text.trim(), false)
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A peer as the user gave it: an address, or a name to look up on the LAN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    /// `HOST:PORT`.
    Addr(HostPort),
    /// A name a udpchat advertises (`udpchat --name bob`): a peer argument
    /// without a port that is not an address and is a name udpchat takes
    /// (see `udpchat::discover::check_name`). `pc-b.lan` or `10.0.0.1`
    /// without a port is still "missing port".
    Name(String),
}

impl FromStr for Peer {
    type Err = Error;

    fn from_str(text: &str) -> Result<Peer, Error> {
        match text.parse::<HostPort>() {
            Ok(addr) => Ok(Peer::Addr(addr)),
            Err(Error::InvalidAddress {
                problem: AddressProblem::MissingPort,
                ..
            }) if udpchat::discover::check_name(text.trim()).is_ok() => {
                Ok(Peer::Name(text.trim().to_owned()))
            }
            Err(err) => Err(err),
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Addr(addr) => addr.fmt(f),
            Peer::Name(name) => f.write_str(name),
        }
    }
}

/// The error for `input`, which has `problem`.
fn invalid(input: &str, problem: AddressProblem) -> Error {
    Error::InvalidAddress {
        input: input.to_owned(),
        problem,
    }
}

fn parse(text: &str, allow_port_zero: bool) -> Result<HostPort, Error> {
    let invalid = |problem| invalid(text, problem);
    // A list such as `a:1,b:1` would otherwise be read as one IPv6 address.
    if text.contains(',') {
        return Err(invalid(AddressProblem::Comma));
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid(AddressProblem::MissingBracket))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| invalid(AddressProblem::MissingPortAfterBracket))?;
        let (ip, zone) = match inside.split_once('%') {
            Some((ip, zone)) => (ip, Some(zone)),
            None => (inside, None),
        };
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| invalid(AddressProblem::NotIpv6(ip.to_owned())))?;
        let host = match zone {
            Some("") => return Err(invalid(AddressProblem::EmptyZone)),
            Some(zone) => Host::ScopedV6(ip, zone.to_owned()),
            None => Host::Ip(IpAddr::V6(ip)),
        };
        (host, port)
    } else {
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| invalid(AddressProblem::MissingPort))?;
        if host.contains(':') {
            return Err(invalid(AddressProblem::NeedsBrackets));
        }
        if host.is_empty() {
            return Err(invalid(AddressProblem::MissingHost));
        }
        let host = match host.parse::<Ipv4Addr>() {
            Ok(ip) => Host::Ip(IpAddr::V4(ip)),
            Err(_) if is_host_name(host) => Host::Name(host.to_owned()),
            Err(_) => return Err(invalid(AddressProblem::NotAHost(host.to_owned()))),
        };
        (host, port)
    };
    if port.is_empty() {
        return Err(invalid(AddressProblem::EmptyPort));
    }
    let port = match port.parse::<u16>() {
        Ok(0) if !allow_port_zero => return Err(invalid(AddressProblem::PortZero)),
        Ok(port) => port,
        Err(_) => return Err(invalid(AddressProblem::BadPort(port.to_owned()))),
    };
    Ok(HostPort {
        text: text.to_owned(),
        host,
        port,
    })
}

/// Letters, digits, '-', '_' and '.', as in DNS names and `/etc/hosts` entries.
/// Rejecting anything else here gives a clear message instead of a resolver error.
fn is_host_name(host: &str) -> bool {
    host.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && host.bytes().any(|b| b.is_ascii_alphabetic())
}

/// The scope id of an IPv6 zone: the index of the interface it names, by
/// name or by index. Either way it must be one of this host's interfaces, so
/// a zone that names none is the same usage error whichever way it is written.
/// The interfaces are listed as the library lists them for rooms: with
/// `if-addrs`, alike on every system, an interface with no address absent.
fn zone_index(zone: &str) -> Result<u32, AddressProblem> {
    let interfaces = if_addrs::get_if_addrs().unwrap_or_else(|err| {
        warn!("cannot list this host's network interfaces: {err}");
        Vec::new()
    });
    match zone.parse::<u32>() {
        Ok(index) => interfaces
            .iter()
            .any(|interface| interface.index == Some(index))
            .then_some(index)
            .ok_or(AddressProblem::UnknownZoneIndex(index)),
        Err(_) => interfaces
            .iter()
            .filter(|interface| interface.name == zone)
            .find_map(|interface| interface.index)
            .ok_or_else(|| AddressProblem::UnknownZone(zone.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(text: &str) -> Result<SocketAddr, String> {
        text.parse::<HostPort>()
            .and_then(|hp| hp.resolve())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn parses_then_resolves_and_wants_a_port() {
        let peer: HostPort = "[::1]:2323".parse().unwrap();
        assert_eq!(peer.resolve().unwrap(), "[::1]:2323".parse().unwrap());
        assert!("pc-b.lan".parse::<HostPort>().is_err()); // no port
    }

    #[test]
    fn accepts_ipv4_ipv6_and_names() {
        assert_eq!(peer("192.168.1.6:2323").unwrap().to_string(), "192.168.1.6:2323");
        assert_eq!(peer("[::1]:9").unwrap().to_string(), "[::1]:9");
        assert_eq!(peer("localhost:7").unwrap().port(), 7);
    }

    /// The loopback interface's name and index, as this system calls it
    /// (`lo` on Linux, `lo0` on macOS and the BSDs).
    fn loopback_interface() -> (String, u32) {
        let interfaces = if_addrs::get_if_addrs().expect("this host's interfaces");
        let lo = interfaces
            .into_iter()
            .find(|interface| interface.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST))
            .expect("127.0.0.1 is a local address");
        (lo.name, lo.index.expect("the loopback interface's index"))
    }

    #[test]
    fn resolves_a_zone_given_as_an_interface_name_or_index() {
        let (name, index) = loopback_interface();
        for zone in [name, index.to_string()] {
            let SocketAddr::V6(addr) = peer(&format!("[fe80::1%{zone}]:2323")).unwrap() else {
                panic!("not IPv6")
            };
            assert_eq!(addr.scope_id(), index, "%{zone}");
        }
    }

    #[test]
    fn explains_each_malformed_peer() {
        for (input, expected) in [
            ("host", "missing port"),
            ("host:", "missing port"),
            (":2323", "missing host"),
            ("host:99999", "not a number from 1 to 65535"),
            ("host:0", "port 0"),
            ("host:x", "not a number"),
            ("[::1", "missing ']'"),
            ("[::1]", "missing port"),
            ("[::1]2323", "missing port"),
            ("[nope]:1", "not an IPv6 address"),
            ("::1:2323", "needs brackets"),
            ("192.0.2.1:2323,192.0.2.2:2323", "one address per argument"),
            ("a,b", "one address per argument"),
            ("bad host:1", "not a host name"),
            ("[fe80::1%]:1", "empty zone"),
        ] {
            let err = peer(input).unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
            assert!(
                err.contains(input),
                "{input}: message does not name the input: {err}"
            );
        }
    }

    #[test]
    fn a_peer_without_a_port_that_is_not_an_address_is_a_name() {
        let peer = |text: &str| text.parse::<Peer>().map_err(|err| err.to_string());
        assert_eq!(peer("bob"), Ok(Peer::Name("bob".into())));
        assert_eq!(peer("José 2"), Ok(Peer::Name("José 2".into())));
        assert!(matches!(peer("bob:2323"), Ok(Peer::Addr(_))));
        for still_missing_a_port in ["pc-b.lan", "10.0.0.1", "2323", "bad\u{1b}name"] {
            let err = peer(still_missing_a_port).unwrap_err();
            assert!(err.contains("missing port"), "{still_missing_a_port}: {err}");
        }
        assert!(peer("[::1]").unwrap_err().contains("missing port"));
    }

    #[test]
    fn bind_takes_a_bare_port_or_a_bare_ip() {
        let v4: SocketAddr = "192.0.2.1:1".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:1".parse().unwrap();
        let bind = |text, family| HostPort::parse_bind(text, family).unwrap().resolve().unwrap();
        assert_eq!(bind("4000", &v4).to_string(), "0.0.0.0:4000");
        assert_eq!(bind("4000", &v6).to_string(), "[::]:4000");
        assert_eq!(bind("127.0.0.1", &v4).to_string(), "127.0.0.1:2323");
        assert_eq!(bind("::1", &v6).to_string(), "[::1]:2323");
        assert_eq!(bind("127.0.0.1:0", &v4).port(), 0);
    }

    #[test]
    fn refuses_a_zone_no_interface_has_by_name_or_by_index() {
        let err = peer("[fe80::1%nosuchif0]:1").unwrap_err();
        assert_eq!(
            err,
            "invalid address '[fe80::1%nosuchif0]:1': no network interface named 'nosuchif0'"
        );
        let err = peer("[fe80::1%99999]:5000").unwrap_err();
        assert_eq!(
            err,
            "invalid address '[fe80::1%99999]:5000': no network interface with index 99999"
        );
    }
}
