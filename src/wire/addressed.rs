//! Whom a sealed datagram was sent to, and whether that is this chat: the rules that bind a datagram to its direction and its chat.
//!
//! Every sealed datagram carries the address its sender sent it to (`to`).
//! A chat with peers refuses one sent to an address it sends to itself
//! (its own datagram come back, from any run of it, or one meant for its
//! peer), and one not sent to this endpoint: a datagram of another chat
//! that uses the same secret, replayed. A room takes only those sent to the
//! room. Behind NAT or through a relay, senders reach this endpoint at an
//! address it cannot know: `--reachable-at` names those.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use crate::throttle::Throttle;

/// What a datagram's `to` says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Addressed {
    /// To this chat.
    Here,
    /// To an address this chat sends to: its own, or its peer's.
    Reflected,
    /// To somewhere else.
    Elsewhere,
}

/// Where datagrams for this chat are sent to.
pub(crate) enum Recipient {
    /// A chat with peers, receiving on `bound`.
    Peers {
        /// Where this chat sends, canonical (IPv4 as IPv4).
        sends_to: Vec<SocketAddr>,
        /// The address it is bound to, canonical; unspecified for every address.
        bound: SocketAddr,
        /// Addresses senders reach it at through NAT or a relay (`--reachable-at`).
        reachable_at: Vec<SocketAddr>,
        /// This host's addresses, for an unspecified `bound`.
        own: OwnAddresses,
    },
    /// A multicast room: the group and its port, exactly.
    Group(SocketAddr),
    /// A broadcast room on `port`: 255.255.255.255, or any of `addresses`
    /// (the directed broadcasts of this host's networks, and the one this
    /// member sends to), since members may name the room either way.
    Broadcast { port: u16, addresses: Vec<Ipv4Addr> },
    /// Anything: for tests and fuzzing, which have no socket.
    #[cfg(test)]
    Anywhere,
}

impl Recipient {
    /// What `to` says about a datagram that carries it, at `now`.
    pub fn judge(&mut self, to: &SocketAddr, now: impl FnOnce() -> Instant) -> Addressed {
        let here = match self {
            Recipient::Peers {
                sends_to,
                bound,
                reachable_at,
                own,
            } => {
                // A relay that both ends send to is where this chat sends
                // and where it is reached: the second wins.
                if reachable_at.contains(to) {
                    return Addressed::Here;
                }
                if sends_to.contains(to) {
                    return Addressed::Reflected;
                }
                to.port() == bound.port() && is_bound_ip(bound, to.ip(), own, now)
            }
            Recipient::Group(group) => group == to,
            Recipient::Broadcast { port, addresses } => {
                *port == to.port()
                    && match to.ip() {
                        IpAddr::V4(ip) => ip == Ipv4Addr::BROADCAST || addresses.contains(&ip),
                        IpAddr::V6(_) => false,
                    }
            }
            #[cfg(test)]
            Recipient::Anywhere => true,
        };
        if here {
            Addressed::Here
        } else {
            Addressed::Elsewhere
        }
    }
}

/// Whether a socket bound to `bound` receives datagrams sent to `ip`.
fn is_bound_ip(
    bound: &SocketAddr,
    ip: IpAddr,
    own: &mut OwnAddresses,
    now: impl FnOnce() -> Instant,
) -> bool {
    let bound_ip = bound.ip();
    if !bound_ip.is_unspecified() {
        return bound_ip == ip;
    }
    // 0.0.0.0 hears IPv4 alone; [::] is dual-stack and hears both.
    if bound_ip.is_ipv4() && !ip.is_ipv4() {
        return false;
    }
    ip.is_loopback() || own.contains(ip, now)
}

/// This host's addresses, listed once, and listed again (at most once a
/// second) when a datagram names one not in the list: an address may have
/// come since (DHCP, a new interface).
pub(crate) struct OwnAddresses {
    list: Vec<IpAddr>,
    list_again: fn() -> Vec<IpAddr>,
    relisted: Throttle,
}

impl OwnAddresses {
    pub fn new(list_again: fn() -> Vec<IpAddr>) -> OwnAddresses {
        OwnAddresses {
            list: list_again(),
            list_again,
            relisted: Throttle::default(),
        }
    }

    fn contains(&mut self, ip: IpAddr, now: impl FnOnce() -> Instant) -> bool {
        if self.list.contains(&ip) {
            return true;
        }
        if !self.relisted.allows(now()) {
            return false;
        }
        self.list = (self.list_again)();
        self.list.contains(&ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn peers(bound: &str, reachable_at: &[&str]) -> Recipient {
        Recipient::Peers {
            sends_to: vec![addr("192.168.1.6:2323")],
            bound: addr(bound),
            reachable_at: reachable_at.iter().map(|a| addr(a)).collect(),
            own: OwnAddresses::new(|| vec!["192.168.1.5".parse().unwrap(), "fe80::5".parse().unwrap()]),
        }
    }

    fn judge(recipient: &mut Recipient, to: &str) -> Addressed {
        recipient.judge(&addr(to), Instant::now)
    }

    #[test]
    fn a_chat_with_peers_takes_what_is_sent_to_it_and_refuses_its_own_and_others() {
        let mut any = peers("[::]:2323", &["203.0.113.9:40000"]);
        for to in [
            "192.168.1.5:2323",
            "127.0.0.1:2323",
            "127.1.2.3:2323",
            "[::1]:2323",
            "[fe80::5]:2323",
        ] {
            assert_eq!(judge(&mut any, to), Addressed::Here, "{to}");
        }
        assert_eq!(judge(&mut any, "203.0.113.9:40000"), Addressed::Here);
        let mut relayed = peers("[::]:2323", &["192.168.1.6:2323"]);
        assert_eq!(judge(&mut relayed, "192.168.1.6:2323"), Addressed::Here);
        assert_eq!(judge(&mut any, "192.168.1.6:2323"), Addressed::Reflected);
        for to in ["192.168.1.5:2324", "192.168.1.7:2323", "203.0.113.9:2323"] {
            assert_eq!(judge(&mut any, to), Addressed::Elsewhere, "{to}");
        }
        let mut v4 = peers("0.0.0.0:2323", &[]);
        assert_eq!(judge(&mut v4, "[::1]:2323"), Addressed::Elsewhere);
        assert_eq!(judge(&mut v4, "192.168.1.5:2323"), Addressed::Here);
        let mut one = peers("127.0.0.1:2323", &[]);
        assert_eq!(judge(&mut one, "127.0.0.1:2323"), Addressed::Here);
        assert_eq!(judge(&mut one, "127.0.0.2:2323"), Addressed::Elsewhere);
        assert_eq!(judge(&mut one, "192.168.1.5:2323"), Addressed::Elsewhere);
    }

    #[test]
    fn a_room_takes_only_what_is_sent_to_the_room() {
        let mut group = Recipient::Group(addr("239.255.23.23:2323"));
        assert_eq!(judge(&mut group, "239.255.23.23:2323"), Addressed::Here);
        assert_eq!(judge(&mut group, "239.255.23.24:2323"), Addressed::Elsewhere);
        assert_eq!(judge(&mut group, "239.255.23.23:2324"), Addressed::Elsewhere);
        let mut broadcast = Recipient::Broadcast {
            port: 2323,
            addresses: vec!["192.168.1.255".parse().unwrap()],
        };
        assert_eq!(judge(&mut broadcast, "255.255.255.255:2323"), Addressed::Here);
        assert_eq!(judge(&mut broadcast, "192.168.1.255:2323"), Addressed::Here);
        assert_eq!(judge(&mut broadcast, "10.0.0.255:2323"), Addressed::Elsewhere);
        assert_eq!(judge(&mut broadcast, "255.255.255.255:9"), Addressed::Elsewhere);
    }

    #[test]
    fn lists_the_hosts_addresses_again_at_most_once_a_second() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static LISTED: AtomicUsize = AtomicUsize::new(0);
        let mut own = OwnAddresses::new(|| {
            LISTED.fetch_add(1, Ordering::Relaxed);
            vec![]
        });
        let now = Instant::now();
        for _ in 0..1000 {
            assert!(!own.contains("10.0.0.1".parse().unwrap(), || now));
        }
        assert_eq!(LISTED.load(Ordering::Relaxed), 2);
    }
}
