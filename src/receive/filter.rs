//! Who may talk: which received datagrams are shown, and which are labelled with their source.
//!
//! A UDP port on a LAN receives whatever anyone sends to it. By default only
//! datagrams from the peer's IP address are shown (from any port: some peers
//! send from a second socket); the rest are ignored. With several peers, any
//! of their addresses is heard; a room hears the networks it allows. This is a
//! filter, not authentication: on a LAN a source address is easy to forge.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use ipnet::IpNet;
use log::{debug, warn};

use crate::Error;
use crate::config::{Destination, Hears};
use crate::net::canonical;
use crate::net::room::Member;
use crate::throttle::Throttle;

/// What to do with a datagram, judged by its source address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Show it as it is: it is from the peer.
    Show,
    /// Show it after `<ADDR> `: `--show-sender`, one of several peers or room
    /// members, or a stranger's datagram with `--accept-any`, so that nobody's
    /// text passes for someone else's.
    ShowLabelled,
    /// Do not show it: it is from a host that is not heard.
    Ignore,
    /// Do not show it: it is this endpoint's own line, come back because
    /// broadcasts and multicasts loop back to their sender.
    Echo,
}

/// Who is heard: each host that may talk, or each network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Heard {
    /// The peers' IP addresses, each from any port. Lines from the only peer
    /// are shown unlabelled; with several peers every line is labelled.
    Peers(Vec<SocketAddr>),
    /// Any host in these networks (a room); every line is labelled.
    Networks(Vec<IpNet>),
    /// Every host (a room with `--accept-any`); every line is labelled.
    Everyone,
}

impl Heard {
    /// The hosts or networks, as a list for messages: `10.0.0.1, 10.0.0.2`.
    /// Two peers on one host are one host here.
    pub fn hosts(&self) -> String {
        let all: Vec<String> = match self {
            Heard::Peers(peers) => peers.iter().map(|peer| peer.ip().to_string()).collect(),
            Heard::Networks(nets) => nets.iter().map(IpNet::to_string).collect(),
            Heard::Everyone => return "every host".to_owned(),
        };
        let mut list: Vec<&str> = Vec::with_capacity(all.len());
        for host in &all {
            if !list.contains(&host.as_str()) {
                list.push(host);
            }
        }
        list.join(", ")
    }

    /// Whether `from`, in canonical form (see [`canonical`]), is heard.
    fn contains(&self, from: &SocketAddr) -> bool {
        match self {
            Heard::Peers(peers) => peers.iter().any(|peer| is_peer(peer, from)),
            Heard::Networks(nets) => nets.iter().any(|net| net.contains(&from.ip())),
            Heard::Everyone => true,
        }
    }

    /// True when lines from different senders would otherwise look alike.
    fn labels_everyone(&self) -> bool {
        match self {
            Heard::Peers(peers) => peers.len() > 1,
            Heard::Networks(_) | Heard::Everyone => true,
        }
    }
}

impl fmt::Display for Heard {
    /// `the peer 10.0.0.1`, `the peers 10.0.0.1, 10.0.0.2`, `the networks 10.0.0.0/24`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Heard::Peers(peers) if peers.len() == 1 => "the peer",
            Heard::Peers(_) => "the peers",
            Heard::Networks(_) => "the networks",
            Heard::Everyone => return f.write_str("every host"),
        };
        write!(f, "{what} {}", self.hosts())
    }
}

/// Decides, for each datagram's source, whether it is shown, and whether
/// with its sender's address. It only judges; display shows.
#[derive(Clone, Debug)]
pub(crate) struct SourceFilter {
    heard: Heard,
    accept_any: bool,
    /// Label the one peer's lines too (`--show-sender`).
    label_all: bool,
    echoes: Option<Echoes>,
    /// Senders known by name (found on the LAN), whose lines are labelled
    /// with it rather than with their address.
    #[cfg(feature = "discover")]
    names: Option<std::sync::Arc<crate::discover::Labels>>,
}

/// Where this endpoint's own datagrams come from: its sending port, on one of
/// this host's addresses.
#[derive(Clone, Debug)]
struct Echoes {
    port: u16,
    hosts: Vec<IpAddr>,
}

impl SourceFilter {
    /// Hears the peers or networks of `heard`, or every host with
    /// `accept_any`. Lines carry their sender's address whenever it is not
    /// the one peer (a stranger, one of several peers, a member of a room),
    /// and with `label_all` always.
    pub fn new(heard: Heard, accept_any: bool, label_all: bool) -> SourceFilter {
        let heard = match heard {
            Heard::Peers(peers) => Heard::Peers(peers.into_iter().map(canonical).collect()),
            networks => networks,
        };
        SourceFilter {
            heard,
            accept_any,
            label_all,
            echoes: None,
            #[cfg(feature = "discover")]
            names: None,
        }
    }

    /// Labels the senders `names` knows with their names.
    #[cfg(feature = "discover")]
    pub fn naming(mut self, names: std::sync::Arc<crate::discover::Labels>) -> SourceFilter {
        self.names = Some(names);
        self
    }

    /// Calls `with` with the name `from` (canonical) is known by, if any.
    pub fn with_name<T>(&self, from: &SocketAddr, with: impl FnOnce(Option<&str>) -> T) -> T {
        #[cfg(feature = "discover")]
        if let Some(names) = &self.names {
            return names.with_name(from, with);
        }
        let _ = from;
        with(None)
    }

    /// The filter of a chat with `destination`: its peers; or in a room, the
    /// networks it hears and never its own echoes (`member`).
    pub fn for_chat(
        destination: &Destination,
        label_all: bool,
        member: Option<&Member>,
    ) -> Result<SourceFilter, Error> {
        let (heard, accept_any) = match destination {
            Destination::Peers {
                peers, accept_any, ..
            } => (Heard::Peers(peers.clone()), *accept_any),
            Destination::Broadcast { hears, .. } => (room_hears(hears, true, member)?, false),
            Destination::Group { group, hears } => {
                (room_hears(hears, group.addr().is_ipv4(), member)?, false)
            }
        };
        let filter = SourceFilter::new(heard, accept_any, label_all);
        Ok(match member {
            // A member's lines leave from a port of its own (see room.rs), so
            // those that loop back to it are known by that source address.
            Some(member) => {
                let hosts = member.local.iter().map(|addr| addr.net.addr()).collect();
                filter.dropping_echoes(member.echo_port, hosts)
            }
            None => filter,
        })
    }

    /// Judges datagrams from `port` on one of `hosts` (this host's
    /// addresses) to be this endpoint's own, come back: [`Verdict::Echo`].
    /// With no `hosts` (a system that cannot list them) the port alone decides.
    ///
    /// A room member sends from a socket of its own, on a port the system
    /// picked, so no other member, on this host or another, has that source
    /// address: another host has other IPs, and on this host the port is taken.
    pub fn dropping_echoes(mut self, port: u16, hosts: Vec<IpAddr>) -> SourceFilter {
        let hosts = hosts.into_iter().map(|ip| ip.to_canonical()).collect();
        self.echoes = Some(Echoes { port, hosts });
        self
    }

    /// Who is heard, as compared (IPv4-mapped peers made IPv4).
    pub fn heard(&self) -> &Heard {
        &self.heard
    }

    /// Judges a datagram from `from`, which must be canonical (see
    /// [`canonical`]): the inbox makes it so, once per datagram.
    pub fn judge(&self, from: &SocketAddr) -> Verdict {
        if self.is_echo(from) {
            return Verdict::Echo;
        }
        let label = self.label_all || self.heard.labels_everyone();
        match (self.heard.contains(from), self.accept_any, label) {
            (true, _, false) => Verdict::Show,
            (true, _, true) | (false, true, _) => Verdict::ShowLabelled,
            (false, false, _) => Verdict::Ignore,
        }
    }

    /// Whether `from`, in canonical form, is this endpoint's own sending socket.
    fn is_echo(&self, from: &SocketAddr) -> bool {
        let Some(echoes) = &self.echoes else {
            return false;
        };
        from.port() == echoes.port && (echoes.hosts.is_empty() || echoes.hosts.contains(&from.ip()))
    }
}

/// Whom a room hears: every host, `--allow`'s networks, or those of this
/// host's interfaces in the room's IP family.
fn room_hears(hears: &Hears, ipv4: bool, member: Option<&Member>) -> Result<Heard, Error> {
    Ok(match hears {
        Hears::Everyone => Heard::Everyone,
        Hears::Networks(networks) => Heard::Networks(networks.clone()),
        Hears::LocalNetworks => {
            let local = member.map_or(&[][..], |member| &member.local[..]);
            let mut networks: Vec<IpNet> = local
                .iter()
                .map(|addr| addr.net.trunc())
                .filter(|net| matches!(net, IpNet::V4(_)) == ipv4)
                .collect();
            networks.sort();
            networks.dedup();
            if networks.is_empty() {
                return Err(Error::NoLocalNetworks);
            }
            Heard::Networks(networks)
        }
    })
}

/// True when `from` has the peer's IP address, whatever its port.
///
/// Both sides are canonical (see [`canonical`]), so an IPv4 peer matches its
/// datagrams on a dual-stack socket (`::ffff:a.b.c.d`). An IPv6 link-local address is
/// only unique on one link: when both sides carry a scope id (the interface),
/// the scope ids must match too. A scope id of 0 means "not given" and matches
/// any, since Linux reports none for global addresses.
fn is_peer(peer: &SocketAddr, from: &SocketAddr) -> bool {
    match (peer, from) {
        (SocketAddr::V6(peer), SocketAddr::V6(from)) => {
            peer.ip() == from.ip()
                && (peer.scope_id() == 0 || from.scope_id() == 0 || peer.scope_id() == from.scope_id())
        }
        (peer, from) => peer.ip() == from.ip(),
    }
}

/// Debug lines about ignored datagrams allowed per second: enough to see
/// who is sending, too few for a flood of strangers to flood stderr.
const LOG_BUDGET: u32 = 10;

/// Reports ignored datagrams on stderr without letting a flood through: a
/// warning for the first (a mistyped peer address shows at once), then debug
/// lines, at most [`LOG_BUDGET`] per second, saying how many were not logged.
#[derive(Debug)]
pub(crate) struct StrangerLog {
    heard: String,
    warned: bool,
    debug_lines: Throttle,
    not_logged: u64,
}

impl StrangerLog {
    pub fn new(heard: &Heard) -> StrangerLog {
        StrangerLog {
            heard: heard.to_string(),
            warned: false,
            debug_lines: Throttle::per_second(LOG_BUDGET),
            not_logged: 0,
        }
    }

    /// Reports one ignored datagram of `len` bytes from `from`.
    pub fn ignored(&mut self, from: &SocketAddr, len: usize) {
        if !self.warned {
            self.warned = true;
            warn!(
                "ignoring datagrams from hosts other than {}, first from {from}; \
                 --accept-any shows them",
                self.heard
            );
        }
        // Reading the clock costs a little per datagram: only when it will be used.
        if !log::log_enabled!(log::Level::Debug) {
            return;
        }
        if let Some(not_logged) = self.allow(Instant::now()) {
            if not_logged > 0 {
                debug!("ignored {len} bytes from {from} ({not_logged} more ignored datagrams not logged)");
            } else {
                debug!("ignored {len} bytes from {from}");
            }
        }
    }

    /// Spends one line of the budget at `now`: `Some(count of datagrams not
    /// logged since the last line)`, or `None` when the budget is spent.
    fn allow(&mut self, now: Instant) -> Option<u64> {
        if self.debug_lines.allows(now) {
            Some(std::mem::take(&mut self.not_logged))
        } else {
            self.not_logged += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    /// Judges `from` as the receiver does, after the inbox made it canonical.
    fn verdict(filter: &SourceFilter, from: &str) -> Verdict {
        filter.judge(&canonical(addr(from)))
    }

    fn judge(peer: &str, from: &str) -> Verdict {
        verdict(&filter(peer, false, false), from)
    }

    fn filter(peer: &str, accept_any: bool, label_all: bool) -> SourceFilter {
        SourceFilter::new(Heard::Peers(vec![addr(peer)]), accept_any, label_all)
    }

    fn hearing(heard: Heard) -> SourceFilter {
        SourceFilter::new(heard, false, false)
    }

    #[test]
    fn hears_the_peers_ip_from_any_port() {
        assert_eq!(judge("192.168.1.6:2323", "192.168.1.6:2323"), Verdict::Show);
        assert_eq!(judge("192.168.1.6:2323", "192.168.1.6:51000"), Verdict::Show);
        assert_eq!(judge("[2001:db8::6]:2323", "[2001:db8::6]:9"), Verdict::Show);
    }

    #[test]
    fn ignores_other_hosts_by_default() {
        assert_eq!(judge("192.168.1.6:2323", "192.168.1.7:2323"), Verdict::Ignore);
        assert_eq!(judge("[2001:db8::6]:2323", "[2001:db8::7]:2323"), Verdict::Ignore);
        // The two loopbacks are different addresses, as the integration tests rely on.
        assert_eq!(judge("127.0.0.1:2323", "[::1]:2323"), Verdict::Ignore);
        assert_eq!(judge("[::1]:2323", "127.0.0.1:2323"), Verdict::Ignore);
    }

    #[test]
    fn matches_an_ipv4_peer_seen_through_a_dual_stack_socket() {
        assert_eq!(judge("192.168.1.6:2323", "[::ffff:192.168.1.6]:9"), Verdict::Show);
        assert_eq!(judge("[::ffff:192.168.1.6]:2323", "192.168.1.6:9"), Verdict::Show);
        assert_eq!(
            judge("192.168.1.6:2323", "[::ffff:192.168.1.7]:9"),
            Verdict::Ignore
        );
    }

    #[test]
    fn tells_link_local_peers_on_different_interfaces_apart() {
        assert_eq!(judge("[fe80::1%2]:2323", "[fe80::1%2]:9"), Verdict::Show);
        assert_eq!(judge("[fe80::1%2]:2323", "[fe80::1%3]:9"), Verdict::Ignore);
        assert_eq!(judge("[fe80::1]:2323", "[fe80::1%3]:9"), Verdict::Show);
        assert_eq!(judge("[fe80::1%2]:2323", "[fe80::2%2]:9"), Verdict::Ignore);
    }

    #[test]
    fn accept_any_labels_strangers_and_leaves_the_peer_unlabelled() {
        let filter = filter("10.0.0.1:2323", true, false);
        assert_eq!(verdict(&filter, "10.0.0.1:5"), Verdict::Show);
        assert_eq!(verdict(&filter, "10.0.0.2:6"), Verdict::ShowLabelled);
    }

    #[test]
    fn show_sender_labels_the_peer_too() {
        let filter = filter("10.0.0.1:2323", false, true);
        assert_eq!(verdict(&filter, "10.0.0.1:5"), Verdict::ShowLabelled);
        assert_eq!(verdict(&filter, "10.0.0.2:5"), Verdict::Ignore);
    }

    #[test]
    fn labels_every_line_when_there_are_several_peers() {
        let peers = hearing(Heard::Peers(vec![
            addr("10.0.0.1:2323"),
            addr("[2001:db8::2]:2323"),
        ]));
        assert_eq!(verdict(&peers, "10.0.0.1:9"), Verdict::ShowLabelled);
        assert_eq!(verdict(&peers, "[::ffff:10.0.0.1]:9"), Verdict::ShowLabelled);
        assert_eq!(verdict(&peers, "[2001:db8::2]:9"), Verdict::ShowLabelled);
        assert_eq!(verdict(&peers, "10.0.0.3:9"), Verdict::Ignore);
    }

    #[test]
    fn a_room_hears_its_networks_and_labels_everyone() {
        let room = hearing(Heard::Networks(vec![
            "192.168.1.0/24".parse().unwrap(),
            "fe80::/64".parse().unwrap(),
        ]));
        assert_eq!(verdict(&room, "192.168.1.77:5"), Verdict::ShowLabelled);
        assert_eq!(verdict(&room, "[::ffff:192.168.1.77]:5"), Verdict::ShowLabelled);
        assert_eq!(verdict(&room, "[fe80::7%2]:5"), Verdict::ShowLabelled);
        assert_eq!(verdict(&room, "192.168.2.1:5"), Verdict::Ignore);
        assert_eq!(verdict(&room, "[2001:db8::1]:5"), Verdict::Ignore);
        let anyone = hearing(Heard::Everyone);
        assert_eq!(verdict(&anyone, "192.168.2.1:5"), Verdict::ShowLabelled);
    }

    #[test]
    fn a_room_that_cannot_tell_its_networks_refuses_to_guess() {
        let room = Destination::Broadcast {
            to: "255.255.255.255:2323".parse().unwrap(),
            hears: Hears::LocalNetworks,
        };
        let member = Member {
            echo_port: 40000,
            local: Vec::new(),
            membership: None,
        };
        let err = SourceFilter::for_chat(&room, false, Some(&member)).unwrap_err();
        assert!(matches!(err, Error::NoLocalNetworks), "{err}");
        let everyone = Destination::Broadcast {
            to: "255.255.255.255:2323".parse().unwrap(),
            hears: Hears::Everyone,
        };
        let filter = SourceFilter::for_chat(&everyone, false, Some(&member)).unwrap();
        assert_eq!(verdict(&filter, "192.0.2.1:5"), Verdict::ShowLabelled);
        assert_eq!(verdict(&filter, "192.0.2.1:40000"), Verdict::Echo);
    }

    #[test]
    fn drops_its_own_echo_by_port_and_local_address_and_nothing_else() {
        let me = |hosts: Vec<IpAddr>| hearing(Heard::Everyone).dropping_echoes(40000, hosts);
        let known = me(vec!["127.0.0.1".parse().unwrap(), "10.0.0.5".parse().unwrap()]);
        assert_eq!(verdict(&known, "10.0.0.5:40000"), Verdict::Echo);
        assert_eq!(verdict(&known, "[::ffff:127.0.0.1]:40000"), Verdict::Echo);
        // Another member on this host (another port), or another host (same port).
        assert_eq!(verdict(&known, "10.0.0.5:40001"), Verdict::ShowLabelled);
        assert_eq!(verdict(&known, "10.0.0.6:40000"), Verdict::ShowLabelled);
        // Where the system cannot list its addresses, the port alone decides.
        assert_eq!(verdict(&me(Vec::new()), "10.0.0.6:40000"), Verdict::Echo);
    }

    #[test]
    fn names_who_is_heard_once_per_host() {
        let peers = Heard::Peers(vec![addr("10.0.0.1:1"), addr("10.0.0.1:2"), addr("10.0.0.2:1")]);
        assert_eq!(peers.to_string(), "the peers 10.0.0.1, 10.0.0.2");
        assert_eq!(
            Heard::Peers(vec![addr("10.0.0.1:1")]).to_string(),
            "the peer 10.0.0.1"
        );
        let nets = Heard::Networks(vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()]);
        assert_eq!(nets.to_string(), "the networks 10.0.0.0/8, ::1/128");
        assert_eq!(Heard::Everyone.to_string(), "every host");
    }

    #[test]
    fn logs_at_most_ten_ignored_datagrams_a_second_and_counts_the_rest() {
        let mut log = StrangerLog::new(&Heard::Peers(vec![addr("10.0.0.1:2323")]));
        let start = Instant::now();
        let allowed: Vec<_> = (0..25).map(|_| log.allow(start)).collect();
        assert_eq!(allowed.iter().filter(|a| a.is_some()).count(), 10);
        assert!(allowed[10..].iter().all(Option::is_none));
        // Still within the second: nothing more.
        assert_eq!(log.allow(start + Duration::from_millis(999)), None);
        // The next second's first line says how many were not logged.
        assert_eq!(log.allow(start + Duration::from_secs(1)), Some(16));
        assert_eq!(log.allow(start + Duration::from_secs(1)), Some(0));
    }
}
