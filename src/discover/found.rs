//! A udpchat found on the LAN: what its DNS-SD records say, each value bounded in size, checked before it is believed.

use std::net::{IpAddr, SocketAddr, SocketAddrV6};

#[cfg(not(target_os = "netbsd"))]
use mdns_sd::{ResolvedService, ScopedIp};

use super::name;

/// The DNS-SD service type of a udpchat (RFC 6763): the chat's UDP port.
pub const SERVICE_TYPE: &str = "_udpchat._udp.local.";

/// The version of the TXT record udpchat writes (`v=1`).
pub(crate) const TXT_VERSION: &str = "1";

/// At most this many addresses of one udpchat are kept; a record that holds
/// more keeps its first ones.
const MAX_ADDRS: usize = 16;

/// Longest TXT value kept; longer ones are taken as absent.
const MAX_TXT_VALUE: usize = 32;

/// A udpchat found on the LAN by its DNS-SD records ([`list`](super::list),
/// [`lookup`](super::lookup)).
///
/// Every field comes from the LAN, where anyone can answer: show `name` with
/// [`shown_name`](Found::shown_name), never as it is. More fields may come.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Found {
    /// The name it advertises, as received (one DNS label, at most 63 bytes).
    pub name: String,
    /// Its addresses, each with the chat's port (IPv6 link-local ones with
    /// their zone); at most 16.
    pub addrs: Vec<SocketAddr>,
    /// The chat's UDP port.
    pub port: u16,
    /// Whether it says it holds a secured chat (`secured=yes` in its TXT
    /// record); `None` when it does not say (not a udpchat, or an older one).
    pub secured: Option<bool>,
    /// The version of its TXT record (`v=1`), when it gives one.
    pub version: Option<String>,
    /// Its instance id (`id=`), which tells one run of udpchat from another.
    pub(crate) id: Option<String>,
    /// The port its lines come from when that is not `port` (a room member
    /// sends from a socket of its own: `src=`).
    pub(crate) sending_port: Option<u16>,
    /// The DNS-SD full name as received: the key it is known by. Two that
    /// differ in case alone are two services to mdns-sd, and so two here:
    /// a lookup of that name then finds both, and refuses to guess.
    pub(crate) key: String,
}

impl Found {
    /// The name as it may be shown anywhere: control characters, bidi
    /// controls and invisible characters escaped (`\x1b`, `\u{202e}`).
    pub fn shown_name(&self) -> String {
        name::shown(&self.name)
    }

    /// Whether the name is one udpchat itself would take (see `--name`):
    /// only then is it used to label lines; otherwise they keep their address.
    pub fn has_usable_name(&self) -> bool {
        name::problem(&self.name).is_none()
    }

    /// The address to send to from a socket bound to `bind`: one of its
    /// family (an IPv4 one through a dual-stack `[::]`), IPv4 first, then
    /// global IPv6, then link-local IPv6; loopback addresses last, as only
    /// a udpchat on this host has them.
    pub fn addr_for(&self, bind: &SocketAddr) -> Option<SocketAddr> {
        let reachable = |addr: &&SocketAddr| match bind {
            SocketAddr::V4(_) => addr.is_ipv4(),
            SocketAddr::V6(v6) => addr.is_ipv6() || v6.ip().is_unspecified(),
        };
        let rank = |addr: &SocketAddr| {
            let ip = addr.ip();
            let family = match ip {
                IpAddr::V4(_) => 0,
                IpAddr::V6(v6) if v6.is_unicast_link_local() => 2,
                IpAddr::V6(_) => 1,
            };
            (ip.is_loopback(), family)
        };
        let bind_is_specific = !bind.ip().is_unspecified();
        self.addrs
            .iter()
            .filter(reachable)
            // A socket bound to loopback reaches loopback alone.
            .filter(|addr| !bind_is_specific || !bind.ip().is_loopback() || addr.ip().is_loopback())
            .min_by_key(|addr| rank(addr))
            .copied()
    }

    /// Reads a resolved service; `None` when it is not a udpchat one or
    /// holds no usable address. Every value is bounded: a name longer than
    /// one label is refused, long TXT values are taken as absent, and only
    /// the first addresses are kept.
    #[cfg(not(target_os = "netbsd"))]
    pub(crate) fn from_resolved(service: &ResolvedService) -> Option<Found> {
        let key = service.fullname.clone();
        let instance = key_instance(&service.fullname)?;
        if instance.is_empty() || instance.len() > name::MAX_NAME_LEN {
            return None;
        }
        let txt = |field: &str| {
            service
                .txt_properties
                .get_property_val_str(field)
                .filter(|value| value.len() <= MAX_TXT_VALUE)
                .map(str::to_owned)
        };
        let secured = match txt("secured").as_deref() {
            Some("yes") => Some(true),
            Some("no") => Some(false),
            _ => None,
        };
        let sending_port = txt("src")
            .and_then(|port| port.parse::<u16>().ok())
            .filter(|&p| p != 0);
        let mut addrs: Vec<SocketAddr> = service
            .addresses
            .iter()
            .map(|scoped| match scoped {
                ScopedIp::V6(v6) if v6.addr().is_unicast_link_local() => {
                    SocketAddrV6::new(*v6.addr(), service.port, 0, v6.scope_id().index).into()
                }
                other => SocketAddr::new(other.to_ip_addr(), service.port),
            })
            .filter(|addr| !addr.ip().is_unspecified() && !addr.ip().is_multicast())
            .collect();
        if addrs.is_empty() || service.port == 0 {
            return None;
        }
        addrs.sort();
        addrs.truncate(MAX_ADDRS);
        Some(Found {
            name: instance.to_owned(),
            addrs,
            port: service.port,
            secured,
            version: txt("v"),
            id: txt("id"),
            sending_port,
            key,
        })
    }

    /// One JSON object for `--list --format json`:
    /// `{"name":"alice","addresses":["10.0.0.5"],"port":2323,"secured":false}`,
    /// the name escaped as received text is in JSON lines.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"name\":");
        out.push_str(&crate::display::json_string(&self.name));
        out.push_str(",\"addresses\":[");
        for (i, addr) in self.addrs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(&ip_text(addr));
            out.push('"');
        }
        out.push_str(&format!("],\"port\":{}", self.port));
        match self.secured {
            Some(secured) => out.push_str(&format!(",\"secured\":{secured}")),
            None => out.push_str(",\"secured\":null"),
        }
        if let Some(version) = &self.version {
            out.push_str(",\"version\":");
            out.push_str(&crate::display::json_string(version));
        }
        out.push('}');
        out
    }
}

/// An address without its port, an IPv6 link-local one with its zone as an
/// index: `10.0.0.5`, `fe80::1%2`.
pub(crate) fn ip_text(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V6(v6) if v6.scope_id() != 0 => format!("{}%{}", v6.ip(), v6.scope_id()),
        other => other.ip().to_string(),
    }
}

/// The instance part of `alice._udpchat._udp.local.`, or `None` for another type.
fn key_instance(fullname: &str) -> Option<&str> {
    let suffix = SERVICE_TYPE.len() + 1; // ".": the dot before the type
    if fullname.len() < suffix || !fullname.is_char_boundary(fullname.len() - suffix) {
        return None;
    }
    let (instance, rest) = fullname.split_at(fullname.len() - suffix);
    rest.get(1..)
        .filter(|ty| ty.eq_ignore_ascii_case(SERVICE_TYPE) && rest.starts_with('.'))
        .map(|_| instance)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(addrs: &[&str]) -> Found {
        Found {
            name: "bob".into(),
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            port: 2323,
            secured: Some(false),
            version: Some("1".into()),
            id: None,
            sending_port: None,
            key: "bob._udpchat._udp.local.".into(),
        }
    }

    #[test]
    fn takes_the_instance_of_a_udpchat_full_name() {
        assert_eq!(key_instance("alice._udpchat._udp.local."), Some("alice"));
        assert_eq!(key_instance("Alice._UDPCHAT._udp.local."), Some("Alice"));
        assert_eq!(key_instance("alice._http._tcp.local."), None);
        assert_eq!(key_instance("._udpchat._udp.local."), Some(""));
        assert_eq!(key_instance("_udpchat._udp.local."), None);
    }

    #[test]
    fn picks_an_address_the_socket_can_reach_ipv4_first() {
        let bob = found(&[
            "[fe80::2%3]:2323",
            "[2001:db8::2]:2323",
            "10.0.0.2:2323",
            "127.0.0.1:2323",
        ]);
        let v4: SocketAddr = "0.0.0.0:2323".parse().unwrap();
        let dual: SocketAddr = "[::]:2323".parse().unwrap();
        let v6_only: SocketAddr = "[2001:db8::1]:2323".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:2323".parse().unwrap();
        assert_eq!(bob.addr_for(&v4).unwrap().to_string(), "10.0.0.2:2323");
        assert_eq!(bob.addr_for(&dual).unwrap().to_string(), "10.0.0.2:2323");
        assert_eq!(bob.addr_for(&v6_only).unwrap().to_string(), "[2001:db8::2]:2323");
        assert_eq!(bob.addr_for(&lo).unwrap().to_string(), "127.0.0.1:2323");
        let link_local_only = found(&["[fe80::2%3]:2323"]);
        assert_eq!(link_local_only.addr_for(&v4), None);
        assert_eq!(
            link_local_only.addr_for(&dual).unwrap().to_string(),
            "[fe80::2%3]:2323"
        );
    }

    #[test]
    fn writes_json_with_the_name_escaped() {
        let mut bob = found(&["10.0.0.2:2323", "[fe80::2%3]:2323"]);
        bob.name = "b\u{1b}\"ob".into();
        assert_eq!(
            bob.to_json(),
            r#"{"name":"b\u001b\"ob","addresses":["10.0.0.2","fe80::2%3"],"port":2323,"secured":false,"version":"1"}"#
        );
    }
}
