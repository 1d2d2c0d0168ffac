//! Rooms: the shared sockets of a LAN broadcast or a multicast group, and how a member knows its own lines.
//!
//! A room has two sockets per member. The *receiving* socket is bound to the
//! room's port with `SO_REUSEADDR` (and `SO_REUSEPORT`), so several udpchats on
//! one host are members at once, and every broadcast or multicast datagram is
//! delivered to each of them. The *sending* socket is bound to a port of its
//! own that the system picks, so every member's datagrams carry a source
//! address (this host's IP, that port) that no other member has. The kernel
//! loops a member's own broadcasts and multicasts back to it (multicast
//! loopback stays on, so members on one host hear each other), and the
//! receiver drops those echoes by their source: see
//! [`SourceFilter::dropping_echoes`](crate::receive::filter::SourceFilter::dropping_echoes).
//! The wire format is unchanged: nothing is added to a datagram.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::str::FromStr;

use log::{debug, info};
use socket2::SockRef;

use crate::net;
use crate::net::interfaces::{self, LocalAddr, local_addrs};
use crate::{AddressProblem, Error, InterfaceProblem};

/// A multicast room: everyone who joins the group on the same port hears
/// every line sent to it.
///
/// ```
/// use udpchat::{Group, Interface};
///
/// let room = Group::new("239.255.23.23:2323".parse().unwrap())?.on("lo".parse()?);
/// assert_eq!(room.ttl(), 1);
/// assert_eq!(room.interface(), Some(&Interface::Name("lo".into())));
/// assert!(Group::new("192.168.1.6:2323".parse().unwrap()).is_err());
/// # Ok::<(), udpchat::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    addr: SocketAddr,
    interface: Option<Interface>,
    ttl: u32,
}

impl Group {
    /// The hop limit of a room's datagrams unless told otherwise: 1 keeps them on
    /// the local link, as a LAN chat should be; routers do not forward them.
    pub const DEFAULT_TTL: u32 = 1;

    /// The group at `addr`, e.g. `239.255.23.23:2323` or `[ff12::2323]:2323`:
    /// the group's address and the port every member binds and sends to, on
    /// the interface the system chooses, TTL 1. An IPv6 scope id
    /// (`[ff12::2323%eth0]`) chooses the interface unless [`on`](Self::on) does.
    /// An address that is not multicast is [`Error::NotMulticast`].
    pub fn new(addr: SocketAddr) -> Result<Group, Error> {
        if !addr.ip().is_multicast() {
            return Err(Error::NotMulticast(addr));
        }
        Ok(Group {
            addr,
            interface: None,
            ttl: Group::DEFAULT_TTL,
        })
    }

    /// The same group, joined on `interface` and sent from it.
    pub fn on(self, interface: Interface) -> Group {
        Group {
            interface: Some(interface),
            ..self
        }
    }

    /// The same group, with lines that may cross `ttl` routers
    /// (`IP_MULTICAST_TTL`, `IPV6_MULTICAST_HOPS`): 1 stays on the link, 0 on this host.
    pub fn with_ttl(self, ttl: u32) -> Group {
        Group { ttl, ..self }
    }

    /// The group's address and port.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The interface to join on and send from; `None` lets the system choose
    /// by its routes (for IPv4, the interface of the default route).
    pub fn interface(&self) -> Option<&Interface> {
        self.interface.as_ref()
    }

    /// How many routers a line may cross.
    pub fn ttl(&self) -> u32 {
        self.ttl
    }
}

/// A network interface, as the user names it (`--interface`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interface {
    /// An IPv4 address the interface holds, e.g. `192.168.1.5` (IPv4 rooms only).
    Addr(Ipv4Addr),
    /// The interface's index, as `ip link` numbers them, e.g. `1`.
    Index(u32),
    /// The interface's name, e.g. `eth0` or `lo` (on Windows its friendly
    /// name, e.g. `Ethernet 2`).
    Name(String),
}

impl FromStr for Interface {
    type Err = Error;

    /// An IPv4 address, a number (an index) or a name.
    fn from_str(text: &str) -> Result<Interface, Error> {
        let text = text.trim();
        if let Ok(addr) = text.parse::<Ipv4Addr>() {
            Ok(Interface::Addr(addr))
        } else if let Ok(index) = text.parse::<u32>() {
            Ok(Interface::Index(index))
        } else if text.is_empty() || text.contains(['/', ':']) {
            Err(Error::Interface {
                input: text.to_owned(),
                problem: InterfaceProblem::Syntax,
            })
        } else {
            Ok(Interface::Name(text.to_owned()))
        }
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interface::Addr(addr) => write!(f, "{addr}"),
            Interface::Index(index) => write!(f, "{index}"),
            Interface::Name(name) => f.write_str(name),
        }
    }
}

/// A room joined: its two sockets, and what the member knows about itself.
pub(crate) struct Joined {
    /// Receives the room's datagrams; shared with other members on this host.
    pub socket: UdpSocket,
    /// Sends this member's lines, from a port no other member has.
    pub sender: UdpSocket,
    /// What the member knows about itself, for its filter and for leaving.
    pub member: Member,
}

/// What a room member knows about itself.
pub(crate) struct Member {
    /// The sending socket's port: datagrams from it, on one of the `local`
    /// addresses, are this member's own lines come back.
    pub echo_port: u16,
    /// This host's addresses and networks, as they were when the room was joined.
    pub local: Vec<LocalAddr>,
    /// The group to leave at the end, with the interface it was joined on.
    pub membership: Option<Membership>,
}

/// A group joined on an interface.
pub(crate) enum Membership {
    V4 { group: Ipv4Addr, interface: Ipv4Addr },
    V6 { group: Ipv6Addr, interface: u32 },
}

impl Membership {
    /// Leaves the group. Closing the socket would leave it too; this says so
    /// in the log, and leaves at once even while a clone of the socket lives.
    pub fn leave(&self, socket: &UdpSocket) {
        let socket = SockRef::from(socket);
        let result = match self {
            Membership::V4 { group, interface } => socket.leave_multicast_v4(group, interface),
            Membership::V6 { group, interface } => socket.leave_multicast_v6(group, *interface),
        };
        let group = match self {
            Membership::V4 { group, .. } => IpAddr::V4(*group),
            Membership::V6 { group, .. } => IpAddr::V6(*group),
        };
        match result {
            Ok(()) => debug!("left the group {group}"),
            Err(err) => debug!("cannot leave the group {group} ({err}); closing the socket will"),
        }
    }
}

/// Binds a broadcast room: receives on `0.0.0.0:PORT` (where broadcasts to
/// any local network arrive; a socket bound to one unicast address would not
/// get them) and sends to `to`, e.g. `255.255.255.255:PORT`.
pub(crate) fn bind_broadcast(to: SocketAddrV4, recv_buffer: Option<usize>) -> Result<Joined, Error> {
    let bind = SocketAddr::from((Ipv4Addr::UNSPECIFIED, to.port()));
    let socket = net::bind_shared(bind, recv_buffer)?;
    let sender = sending_socket(bind)?;
    let fail = |source| Error::RoomOption {
        option: "broadcasts",
        room: SocketAddr::V4(to),
        source,
    };
    SockRef::from(&sender).set_broadcast(true).map_err(fail)?;
    finish(
        socket,
        sender,
        None,
        local_addrs(),
        &format!("broadcasting to {to}"),
    )
}

/// Joins a multicast room: binds its port (shared), joins the group on the
/// chosen interface, and makes a sending socket with the room's TTL, its
/// interface and multicast loopback on.
pub(crate) fn bind_group(group: &Group, recv_buffer: Option<usize>) -> Result<Joined, Error> {
    let local = local_addrs();
    match group.addr {
        SocketAddr::V4(addr) => join_v4(group, *addr.ip(), addr.port(), recv_buffer, local),
        SocketAddr::V6(addr) => join_v6(group, addr, recv_buffer, local),
    }
}

fn join_v4(
    group: &Group,
    ip: Ipv4Addr,
    port: u16,
    recv_buffer: Option<usize>,
    local: Vec<LocalAddr>,
) -> Result<Joined, Error> {
    // Every interface is checked before binding, so that one this host does
    // not have is a usage error, as a name is, not a failure to join.
    let interface = match &group.interface {
        None => Ipv4Addr::UNSPECIFIED,
        Some(Interface::Addr(addr)) => held(*addr, &local)?,
        Some(named) => ipv4_of(named, &local)?,
    };
    // Bound to the group's address, the socket only gets datagrams sent to
    // the group: not other groups on the same port that other programs joined
    // (Linux delivers those to a socket bound to 0.0.0.0), nor unicast ones.
    // Only on Linux: elsewhere the receiver is woken for shutdown by an empty
    // datagram to its own address (net::wake_receiver), which must not be
    // the group's.
    let bind = if cfg!(target_os = "linux") {
        SocketAddr::from((ip, port))
    } else {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))
    };
    let socket = net::bind_shared(bind, recv_buffer)?;
    let on = describe_interface(group.interface.as_ref());
    SockRef::from(&socket)
        .join_multicast_v4(&ip, &interface)
        .map_err(|source| Error::Join {
            group: IpAddr::V4(ip),
            interface: on.clone(),
            source,
        })?;
    let sender = sending_socket(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))?;
    let fail = |option| {
        move |source| Error::RoomOption {
            option,
            room: group.addr,
            source,
        }
    };
    let out = SockRef::from(&sender);
    if !interface.is_unspecified() {
        out.set_multicast_if_v4(&interface)
            .map_err(fail("the interface"))?;
    }
    out.set_multicast_ttl_v4(group.ttl).map_err(fail("the TTL"))?;
    out.set_multicast_loop_v4(true)
        .map_err(fail("multicast loopback"))?;
    let membership = Membership::V4 { group: ip, interface };
    let what = format!("joined {} on {on}, TTL {}", group.addr, group.ttl);
    finish(socket, sender, Some(membership), local, &what)
}

fn join_v6(
    group: &Group,
    addr: SocketAddrV6,
    recv_buffer: Option<usize>,
    local: Vec<LocalAddr>,
) -> Result<Joined, Error> {
    // Checked before binding, as for IPv4: the kernel would only say
    // "No such device" when binding or joining.
    let index = match &group.interface {
        None if addr.scope_id() == 0 => 0,
        None => known_index(addr.scope_id(), &local).map_err(|_| {
            Error::address(
                &group.addr.to_string(),
                AddressProblem::UnknownZoneIndex(addr.scope_id()),
            )
        })?,
        Some(Interface::Index(index)) => known_index(*index, &local)?,
        Some(Interface::Name(name)) => index_of(name, &local)?,
        Some(Interface::Addr(ip)) => {
            return Err(Error::Interface {
                input: ip.to_string(),
                problem: InterfaceProblem::Ipv4ForIpv6Room,
            });
        }
    };
    // Bound to the group, as for IPv4; a link-scope group (ff02::, ff12::)
    // can only be bound with an interface, so without one the socket binds
    // [::] and asks Linux not to add other programs' groups.
    let needs_scope = matches!(addr.ip().segments()[0] & 0x000f, 1 | 2);
    let bind = if cfg!(target_os = "linux") && (index != 0 || !needs_scope) {
        SocketAddr::V6(SocketAddrV6::new(*addr.ip(), addr.port(), 0, index))
    } else {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, addr.port()))
    };
    let socket = net::bind_shared(bind, recv_buffer)?;
    #[cfg(target_os = "linux")]
    if bind.ip().is_unspecified() {
        let _ = SockRef::from(&socket).set_multicast_all_v6(false);
    }
    let on = match (&group.interface, index) {
        (None, 0) => describe_interface(None),
        (None, index) => describe_interface(Some(&Interface::Index(index))),
        (Some(interface), _) => describe_interface(Some(interface)),
    };
    SockRef::from(&socket)
        .join_multicast_v6(addr.ip(), index)
        .map_err(|source| Error::Join {
            group: IpAddr::V6(*addr.ip()),
            interface: on.clone(),
            source,
        })?;
    let sender = sending_socket(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)))?;
    let fail = |option| {
        move |source| Error::RoomOption {
            option,
            room: group.addr,
            source,
        }
    };
    let out = SockRef::from(&sender);
    if index != 0 {
        out.set_multicast_if_v6(index).map_err(fail("the interface"))?;
    }
    out.set_multicast_hops_v6(group.ttl)
        .map_err(fail("the hop limit"))?;
    out.set_multicast_loop_v6(true)
        .map_err(fail("multicast loopback"))?;
    let membership = Membership::V6 {
        group: *addr.ip(),
        interface: index,
    };
    let what = format!("joined {} on {on}, hop limit {}", group.addr, group.ttl);
    finish(socket, sender, Some(membership), local, &what)
}

/// A socket to send a member's lines from, on a port the system picks, so
/// that its source address is this member's alone. Nothing is received on
/// it, so it gets the smallest receive buffer.
fn sending_socket(family_of: SocketAddr) -> Result<UdpSocket, Error> {
    let any = match family_of {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
    };
    let socket = UdpSocket::bind(any).map_err(|source| Error::Bind { addr: any, source })?;
    // The kernel rounds 0 up to its minimum, a few KiB.
    let _ = SockRef::from(&socket).set_recv_buffer_size(0);
    Ok(socket)
}

fn finish(
    socket: UdpSocket,
    sender: UdpSocket,
    membership: Option<Membership>,
    local: Vec<LocalAddr>,
    what: &str,
) -> Result<Joined, Error> {
    let from = sender
        .local_addr()
        .map_err(Error::io("read the sending socket's address"))?;
    info!("{what}; sending from {from}");
    Ok(Joined {
        socket,
        sender,
        member: Member {
            echo_port: from.port(),
            local,
            membership,
        },
    })
}

fn describe_interface(interface: Option<&Interface>) -> String {
    match interface {
        None => "the system's default interface".into(),
        Some(interface) => format!("interface {interface}"),
    }
}

/// The IPv4 address an IPv4 room joins and sends on, for an interface given
/// by name or index: the first one it holds.
fn ipv4_of(interface: &Interface, local: &[LocalAddr]) -> Result<Ipv4Addr, Error> {
    let name = match interface {
        Interface::Addr(addr) => return Ok(*addr),
        Interface::Name(name) => name.clone(),
        Interface::Index(index) => name_of(*index, local)?,
    };
    if !local.iter().any(|addr| addr.interface == name) {
        index_of(&name, local)?; // says "no such interface" when that is the reason
    }
    local
        .iter()
        .filter(|addr| addr.interface == name)
        .find_map(|addr| match addr.net.addr() {
            IpAddr::V4(ip) => Some(ip),
            IpAddr::V6(_) => None,
        })
        .ok_or_else(|| Error::Interface {
            input: interface.to_string(),
            problem: InterfaceProblem::NoIpv4(name.clone()),
        })
}

/// `addr`, if one of this host's interfaces holds it (as the kernel wants
/// of an IPv4 room's interface address), or it is `0.0.0.0`, the system's
/// choice. Where the system cannot list its addresses, any `addr` passes.
fn held(addr: Ipv4Addr, local: &[LocalAddr]) -> Result<Ipv4Addr, Error> {
    let is_local = |local: &LocalAddr| local.net.addr() == IpAddr::V4(addr);
    if addr.is_unspecified() || local.is_empty() || local.iter().any(is_local) {
        Ok(addr)
    } else {
        Err(Error::Interface {
            input: addr.to_string(),
            problem: InterfaceProblem::NotHeld(addr),
        })
    }
}

/// `index`, if this host has an interface with that index.
fn known_index(index: u32, local: &[LocalAddr]) -> Result<u32, Error> {
    name_of(index, local).map(|_| index)
}

fn index_of(name: &str, local: &[LocalAddr]) -> Result<u32, Error> {
    interfaces::index_of(name, local).ok_or_else(|| Error::Interface {
        input: name.to_owned(),
        problem: InterfaceProblem::NoSuchName(name.to_owned()),
    })
}

fn name_of(index: u32, local: &[LocalAddr]) -> Result<String, Error> {
    interfaces::name_of(index, local)
        .map(str::to_owned)
        .ok_or_else(|| Error::Interface {
            input: index.to_string(),
            problem: InterfaceProblem::NoSuchIndex(index),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_interface_as_an_address_an_index_or_a_name() {
        assert_eq!(
            "127.0.0.1".parse::<Interface>().unwrap(),
            Interface::Addr(Ipv4Addr::LOCALHOST)
        );
        assert_eq!("2".parse::<Interface>().unwrap(), Interface::Index(2));
        assert_eq!(
            "eth0".parse::<Interface>().unwrap(),
            Interface::Name("eth0".into())
        );
        // Windows names its interfaces in words.
        assert_eq!(
            "Ethernet 2".parse::<Interface>().unwrap(),
            Interface::Name("Ethernet 2".into())
        );
        for bad in ["", " ", "10.0.0.0/8", "::1"] {
            assert!(bad.parse::<Interface>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_a_group_that_is_not_multicast() {
        let err = Group::new("192.0.2.1:2323".parse().unwrap()).unwrap_err();
        assert!(matches!(err, Error::NotMulticast(_)), "{err}");
        assert!(err.to_string().contains("192.0.2.1"), "{err}");
    }

    #[test]
    fn finds_the_ipv4_address_of_the_loopback_interface_by_name() {
        let local = local_addrs();
        let lo = local
            .iter()
            .find(|addr| addr.net.addr() == IpAddr::V4(Ipv4Addr::LOCALHOST))
            .unwrap();
        let name = Interface::Name(lo.interface.clone());
        assert_eq!(ipv4_of(&name, &local).unwrap(), Ipv4Addr::LOCALHOST);
        let err = ipv4_of(&Interface::Name("nosuchif0".into()), &local).unwrap_err();
        assert!(
            err.to_string().contains("no network interface named 'nosuchif0'"),
            "{err}"
        );
    }

    #[test]
    fn names_the_index_the_user_gave_when_no_interface_has_it() {
        let err = ipv4_of(&Interface::Index(999_999), &local_addrs()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid interface '999999': no network interface with index 999999"
        );
    }

    #[test]
    fn accepts_only_an_ipv4_address_this_host_holds_as_an_interface() {
        let local = local_addrs();
        assert_eq!(held(Ipv4Addr::LOCALHOST, &local).unwrap(), Ipv4Addr::LOCALHOST);
        assert!(held(Ipv4Addr::UNSPECIFIED, &local).is_ok());
        // TEST-NET-1 is never assigned to a host.
        let err = held("192.0.2.1".parse().unwrap(), &local).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid interface '192.0.2.1': no network interface of this host has the address 192.0.2.1"
        );
    }
}
