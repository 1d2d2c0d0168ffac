//! Datagrams a peer refused (ICMP "port unreachable" and the like): one warning per episode, and the count.
//!
//! A peer that is not listening answers each datagram with an ICMP error,
//! which the kernel hands back to the socket: on Linux with the address it
//! was sent to (see [`net::report_errors`](crate::net::report_errors)), on
//! Windows as `WSAECONNRESET` from a receive, without one. An episode begins
//! with the first refusal from an address and ends when a datagram from it
//! arrives: the peer is listening again, and if it leaves again, that is a
//! new episode with a new warning. The chat carries on throughout: the peer
//! may start later.

use std::io;
use std::net::SocketAddr;

use log::{trace, warn};

use crate::net::canonical;

/// At most this many addresses are remembered as away at once: only
/// destinations are, and this bounds even a long list of peers.
const AWAY_LIMIT: usize = 64;

/// The receiver's record of refusals.
#[derive(Debug)]
pub(crate) struct Refusals {
    /// Where lines go (canonical): an unnamed refusal is the one destination's, if there is one.
    destinations: Vec<SocketAddr>,
    /// Addresses refused since they were last heard from; `None` for
    /// refusals that came without an address and cannot be pinned on one peer.
    away: Vec<Option<SocketAddr>>,
    /// Refusals counted in all.
    total: u64,
}

impl Refusals {
    /// Refusals of the datagrams sent to `destinations`.
    pub fn new(destinations: &[SocketAddr]) -> Refusals {
        Refusals {
            destinations: destinations.iter().copied().map(canonical).collect(),
            away: Vec::new(),
            total: 0,
        }
    }

    /// A datagram sent to `to` (as the kernel says, or `None` where it does
    /// not) was refused for `reason`. Warns at the start of an episode.
    pub fn refused(&mut self, to: Option<SocketAddr>, reason: &io::Error) {
        let to = to.map(canonical);
        // An error about an address this chat never sends to is not about
        // its datagrams: someone forged it. Not counted, not remembered, so
        // that forgeries can neither fill the list nor silence a real peer.
        if let Some(to) = to
            && !self.destinations.is_empty()
            && !self.destinations.contains(&to)
        {
            trace!("an ICMP error about {to}, where this chat sends nothing: ignored");
            return;
        }
        self.total += 1;
        let to = to.or_else(|| (self.destinations.len() == 1).then(|| self.destinations[0]));
        trace!(
            "a datagram to {} was refused: {reason}",
            to.map_or("a peer".into(), |to| to.to_string())
        );
        if self.away.contains(&to) || self.away.len() >= AWAY_LIMIT {
            return;
        }
        self.away.push(to);
        let who = match to {
            Some(addr) => addr.to_string(),
            None => "a peer".to_owned(),
        };
        if reason.kind() == io::ErrorKind::ConnectionRefused
            || reason.kind() == io::ErrorKind::ConnectionReset
        {
            warn!(
                "{who} is not listening (yet?): the lines sent to it are lost until it is; still sending and receiving"
            );
        } else {
            warn!(
                "{who} cannot be reached: {reason}; the lines sent to it are lost; still sending and receiving"
            );
        }
    }

    /// A datagram arrived from `from` (canonical): if it was away, it is
    /// listening again. Costs one comparison while nobody is away.
    #[inline]
    pub fn heard_from(&mut self, from: &SocketAddr) {
        if !self.away.is_empty() {
            self.away.retain(|away| away.is_some_and(|away| away != *from));
        }
    }

    /// Refusals counted in all.
    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn refused() -> io::Error {
        io::ErrorKind::ConnectionRefused.into()
    }

    #[test]
    fn one_episode_per_absence_from_the_first_refusal_until_the_peer_is_heard() {
        let peer = addr("127.0.0.1:9");
        let mut refusals = Refusals::new(&[peer]);
        refusals.refused(Some(peer), &refused());
        refusals.refused(Some(addr("[::ffff:127.0.0.1]:9")), &refused());
        assert_eq!(refusals.away, [Some(peer)], "the same peer, seen dual-stack");
        refusals.heard_from(&addr("127.0.0.1:10"));
        assert_eq!(refusals.away.len(), 1, "another port is another endpoint");
        refusals.heard_from(&peer);
        assert!(
            refusals.away.is_empty(),
            "back: the next refusal starts a new episode"
        );
        refusals.refused(Some(peer), &refused());
        assert_eq!((refusals.away.len(), refusals.total()), (1, 3));
    }

    #[test]
    fn each_member_of_several_has_episodes_of_its_own() {
        let (a, b) = (addr("127.0.0.1:9"), addr("127.0.0.1:10"));
        let mut refusals = Refusals::new(&[a, b]);
        refusals.refused(Some(a), &refused());
        refusals.refused(Some(b), &refused());
        refusals.heard_from(&a);
        assert_eq!(refusals.away, [Some(b)]);
    }

    /// Windows reports `WSAECONNRESET` from `recv_from`, with no address: it
    /// is the peer's when there is one peer, anyone's when there are several.
    #[test]
    fn a_refusal_without_an_address_is_the_one_peers_or_nobody_in_particular() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert!(crate::net::is_peer_unreachable(&reset));
        let peer = addr("192.0.2.1:2323");
        let mut one = Refusals::new(&[peer]);
        one.refused(None, &reset);
        assert_eq!(one.away, [Some(peer)]);
        one.heard_from(&peer);
        assert!(one.away.is_empty());

        let mut several = Refusals::new(&[peer, addr("192.0.2.2:2323")]);
        several.refused(None, &reset);
        several.refused(None, &reset);
        assert_eq!((several.away.clone(), several.total()), (vec![None], 2));
    }

    #[test]
    fn remembers_a_bounded_number_of_absent_addresses() {
        let mut refusals = Refusals::new(&[]);
        for port in 1..=1000 {
            refusals.refused(Some(SocketAddr::from(([127, 0, 0, 1], port))), &refused());
        }
        assert_eq!((refusals.away.len(), refusals.total()), (AWAY_LIMIT, 1000));
    }

    #[test]
    fn forged_errors_about_addresses_it_never_sends_to_neither_count_nor_silence_the_peer() {
        let peer = SocketAddr::from(([127, 0, 0, 1], 9));
        let mut refusals = Refusals::new(&[peer]);
        for port in 10..1000 {
            refusals.refused(Some(SocketAddr::from(([127, 0, 0, 1], port))), &refused());
        }
        assert_eq!((refusals.away.len(), refusals.total()), (0, 0));
        refusals.refused(Some(peer), &refused());
        assert_eq!((refusals.away.clone(), refusals.total()), (vec![Some(peer)], 1));
    }
}
