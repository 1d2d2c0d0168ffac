//! Rooms: several udpchats in one multicast group or on one broadcast LAN, each hearing the others once and never itself.
//!
//! IPv4 multicast rooms are tested on the loopback interface of this host,
//! with the interface set explicitly (`--interface lo`), so nothing leaves it.
//! Broadcasts and IPv6 multicast (which Linux does not loop back on `lo`, not
//! even with an ff00::/8 route there) are tested only inside a network
//! namespace the test makes, on a veth pair that leads nowhere else; where
//! namespaces cannot be made, those tests fail in CI and elsewhere say so
//! and are skipped (`common::skip_or_fail`). No test sends a broadcast or
//! multicast datagram on the machine's real interfaces.
#![cfg(target_os = "linux")]
#![cfg(feature = "cli")]

mod common;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use common::{Netns, SecretFile, TIMEOUT, Udpchat, free_port};
use socket2::{Domain, Socket, Type};

/// An administratively scoped IPv4 group (RFC 2365), never routed off a site.
const GROUP_V4: Ipv4Addr = Ipv4Addr::new(239, 255, 23, 23);

/// A transient IPv6 group of link-local scope (ff12::), never routed at all.
const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff12, 0, 0, 0, 0, 0, 0, 0x2323);

/// A room member: the process, and the port its lines come from.
struct Member {
    chat: Udpchat,
    port: u16,
}

impl Member {
    fn join(args: &[&str]) -> Member {
        let chat = Udpchat::start(args);
        let port = chat.sending_port();
        Member { chat, port }
    }

    fn join_in(netns: &Netns, args: &[&str]) -> Member {
        let chat = Udpchat::start_in(netns, args);
        let port = chat.sending_port();
        Member { chat, port }
    }
}

/// Each member says one line in turn; every other member must show it once,
/// labelled with its sender's address (`<IP:PORT>`, the IP as `source_ip`
/// writes it), and the sender must not. A member's own line comes back to it
/// before the next member speaks (the kernel delivers a loop-back copy to
/// every member at once), so the next line a speaker shows being someone
/// else's proves its echo was dropped. At the end, after every input is
/// closed, nobody has anything more to show.
fn each_hears_the_others_once(mut members: Vec<Member>, source_ip: impl Fn(&str) -> bool) {
    for speaker in 0..members.len() {
        let text = format!("line {speaker} to the room");
        members[speaker].chat.send(format!("{text}\n"));
        for (listener, member) in members.iter().enumerate() {
            if listener == speaker {
                continue;
            }
            let shown = member.chat.text_line();
            let (label, said) = shown.split_once(' ').expect("a labelled line");
            assert_eq!(said, text, "member {listener} showed {shown:?}");
            let (ip, port) = label
                .strip_prefix('<')
                .and_then(|label| label.strip_suffix('>'))
                .and_then(|label| label.rsplit_once(':'))
                .unwrap_or_else(|| panic!("member {listener}: no <IP:PORT> in {shown:?}"));
            assert!(source_ip(ip), "member {listener}: unexpected source in {shown:?}");
            assert_eq!(port, members[speaker].port.to_string(), "{shown:?}");
        }
    }
    for member in &mut members {
        member.chat.close_stdin();
    }
    for (i, member) in members.iter_mut().enumerate() {
        let (code, stderr) = member.chat.exit_code();
        assert_eq!(code, Some(0), "member {i}: {stderr}");
        assert_eq!(member.chat.try_line(Duration::ZERO), None, "member {i}: {stderr}");
        assert!(!stderr.contains("ignoring"), "member {i}: {stderr}");
    }
}

#[test]
fn three_members_of_a_multicast_room_on_loopback_each_hear_the_others_once_and_never_themselves() {
    // The group's port is shared; a free one is found by binding port 0.
    let room = SocketAddr::from((GROUP_V4, free_port())).to_string();
    // Two ways to name the loopback interface; TTL 0 (this host only) for one.
    let members = vec![
        Member::join(&["--group", &room, "--interface", "lo"]),
        Member::join(&["--group", &room, "--interface", "127.0.0.1"]),
        Member::join(&["--group", &room, "--interface", "lo", "--ttl", "0"]),
    ];
    each_hears_the_others_once(members, |ip| ip == "127.0.0.1");
}

#[test]
fn a_room_member_is_not_misled_by_a_peer_in_its_environment() {
    let room = SocketAddr::from((GROUP_V4, free_port())).to_string();
    let mut chat = Udpchat::start_with(&["--group", &room, "--interface", "lo"], |command| {
        command
            .env("UDPCHAT_PEER", "127.0.0.1:9")
            .env("UDPCHAT_BIND", "127.0.0.1:0");
    });
    let line = chat.stderr_line_containing("bound ");
    assert!(line.contains(&format!("bound {room}")), "{line}");
    chat.close_stdin();
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
}

/// A plain UDP socket in the group on `lo`, as `socat` or the article's script
/// would be: it sends to the group through the loopback interface.
/// It shares the port as `socat`'s `reuseaddr` does.
fn plain_member(room: SocketAddr) -> UdpSocket {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket.bind(&room.into()).unwrap();
    socket.join_multicast_v4(&GROUP_V4, &Ipv4Addr::LOCALHOST).unwrap();
    socket.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    socket.into()
}

#[test]
fn a_room_speaks_the_plain_wire_format_with_any_member() {
    let room = SocketAddr::from((GROUP_V4, free_port()));
    let plain = plain_member(room);
    let plain_addr = plain.local_addr().unwrap();
    let mut member = Member::join(&["--group", &room.to_string(), "--interface", "lo"]);
    // The line arrives as its bytes alone: no header, no newline.
    member.chat.send("hello, room\n");
    let mut buf = [0; 100];
    let (len, from) = plain.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..len], b"hello, room");
    assert_eq!(from.port(), member.port);
    // A line with its newline, as nc sends it, shows as one line.
    plain.send_to(b"hi from nc\n", room).unwrap();
    assert_eq!(
        member.chat.text_line(),
        format!("<127.0.0.1:{}> hi from nc", plain_addr.port())
    );
    member.chat.close_stdin();
    assert_eq!(member.chat.exit_code().0, Some(0));
}

#[test]
fn allow_limits_whom_a_room_hears() {
    let room = SocketAddr::from((GROUP_V4, free_port()));
    let plain = plain_member(room);
    let port = plain.local_addr().unwrap().port();
    let joined = ["--group", &room.to_string(), "--interface", "lo"];
    let mut elsewhere = Member::join(&[&joined[..], &["--allow", "10.0.0.0/8"]].concat());
    let mut here = Member::join(&[&joined[..], &["--allow", "127.0.0.1"]].concat());
    plain.send_to(b"who hears me?", room).unwrap();
    assert_eq!(here.chat.text_line(), format!("<127.0.0.1:{port}> who hears me?"));
    let warning = elsewhere.chat.stderr_line_containing("ignoring datagrams");
    assert!(
        warning.contains(&format!(
            "other than the networks 10.0.0.0/8, first from 127.0.0.1:{port}"
        )),
        "{warning}"
    );
    for member in [&mut elsewhere, &mut here] {
        member.chat.close_stdin();
        let (code, stderr) = member.chat.exit_code();
        assert_eq!(code, Some(0), "{stderr}");
    }
    assert_eq!(elsewhere.chat.try_line(Duration::ZERO), None);
}

/// A namespace with its loopback up and a veth pair, v0 (10.99.0.1/24 and
/// fe80::1) and v1 (fe80::2), whose far end is in the namespace too: a LAN
/// with nothing else on it. v0 carries the default route, which a broadcast
/// to 255.255.255.255 needs.
fn lan() -> Option<Netns> {
    Netns::new(&[
        &["link", "set", "lo", "up"],
        &["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
        &["link", "set", "v0", "addrgenmode", "none"],
        &["link", "set", "v1", "addrgenmode", "none"],
        &["addr", "add", "10.99.0.1/24", "brd", "+", "dev", "v0"],
        &["addr", "add", "fe80::1/64", "dev", "v0", "nodad"],
        &["addr", "add", "fe80::2/64", "dev", "v1", "nodad"],
        &["link", "set", "v0", "up"],
        &["link", "set", "v1", "up"],
        &["route", "add", "default", "dev", "v0"],
    ])
}

#[test]
fn three_members_of_a_broadcast_room_each_hear_the_others_once_and_never_themselves() {
    let Some(netns) = lan() else { return };
    let port = free_port().to_string();
    let members = (0..3)
        .map(|_| Member::join_in(&netns, &["--broadcast", &port]))
        .collect();
    each_hears_the_others_once(members, |ip| ip == "10.99.0.1");
}

#[test]
fn a_broadcast_room_on_a_subnets_address_hears_the_allowed_hosts_only() {
    let Some(netns) = lan() else { return };
    let port = free_port().to_string();
    let subnet = ["--broadcast", &port, "--broadcast-addr", "10.99.0.255"];
    let allowed = [&subnet[..], &["--allow", "10.99.0.0/24"]].concat();
    let mut speaker = Member::join_in(&netns, &subnet);
    let mut allowed = Member::join_in(&netns, &allowed);
    let mut other = Member::join_in(&netns, &[&subnet[..], &["--allow", "10.99.0.2"]].concat());
    speaker.chat.send("to the subnet\n");
    let expected = format!("<10.99.0.1:{}> to the subnet", speaker.port);
    assert_eq!(allowed.chat.text_line(), expected);
    let warning = other.chat.stderr_line_containing("ignoring datagrams");
    assert!(
        warning.contains("other than the networks 10.99.0.2/32"),
        "{warning}"
    );
    for member in [&mut speaker, &mut allowed, &mut other] {
        member.chat.close_stdin();
        let (code, stderr) = member.chat.exit_code();
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(member.chat.try_line(Duration::ZERO), None, "{stderr}");
    }
}

#[test]
fn three_members_of_an_ipv6_room_on_a_link_each_hear_the_others_once() {
    let Some(netns) = lan() else { return };
    let port = free_port();
    let room = format!("[{GROUP_V6}]:{port}");
    // The interface named by --interface, or as the group's zone.
    let zoned = format!("[{GROUP_V6}%v0]:{port}");
    let members = vec![
        Member::join_in(&netns, &["--group", &room, "--interface", "v0"]),
        Member::join_in(&netns, &["--group", &zoned]),
        Member::join_in(&netns, &["--group", &room, "--interface", "v0"]),
    ];
    each_hears_the_others_once(members, |ip| ip.starts_with("[fe80::1%"));
}

#[test]
fn a_room_member_leaves_at_once_on_ctrl_c_with_both_its_sockets_idle() {
    let room = SocketAddr::from((GROUP_V4, free_port()));
    let plain = plain_member(room);
    let mut member = Member::join(&["--group", &room.to_string(), "--interface", "lo"]);
    // Blocked on stdin (open, nobody typing) and on the room's socket.
    plain.send_to(b"anyone here?", room).unwrap();
    assert!(member.chat.text_line().ends_with("> anyone here?"));
    let sent = std::time::Instant::now();
    member.chat.signal(nix::sys::signal::Signal::SIGINT);
    let (code, stderr) = member.chat.exit_code();
    assert_eq!(code, Some(130), "{stderr}");
    eprintln!("SIGINT to exit: {:?}", sent.elapsed());
}

/// `args`, for a member holding `secret`.
fn holding(secret: &SecretFile, args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    all.extend(["--secret-file".to_owned(), secret.path().to_owned()]);
    all
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn members_of_a_secured_multicast_room_each_hear_the_others_once_and_never_themselves() {
    let secret = SecretFile::secret();
    let room = SocketAddr::from((GROUP_V4, free_port())).to_string();
    let args = holding(&secret, &["--group", &room, "--interface", "lo"]);
    let members = (0..3).map(|_| Member::join(&strs(&args))).collect();
    each_hears_the_others_once(members, |ip| ip == "127.0.0.1");
}

#[test]
fn members_of_a_secured_broadcast_room_each_hear_the_others_once_and_never_themselves() {
    let Some(netns) = lan() else { return };
    let secret = SecretFile::secret();
    let port = free_port().to_string();
    let args = holding(&secret, &["--broadcast", &port]);
    let members = (0..3).map(|_| Member::join_in(&netns, &strs(&args))).collect();
    each_hears_the_others_once(members, |ip| ip == "10.99.0.1");
}

#[test]
fn a_member_without_the_secret_reads_nothing_of_a_secured_room_and_is_not_heard() {
    let (secret, other) = (SecretFile::secret(), SecretFile::secret());
    let room = SocketAddr::from((GROUP_V4, free_port())).to_string();
    let joined = ["--group", room.as_str(), "--interface", "lo"];
    let mut speaker = Member::join(&strs(&holding(&secret, &joined)));
    let mut listener = Member::join(&strs(&holding(&secret, &joined)));
    let mut plain = Member::join(&joined);
    let mut stranger = Member::join(&strs(&holding(&other, &joined)));
    speaker.chat.send("the plan is on\n");
    assert!(listener.chat.text_line().ends_with("> the plan is on"));
    // The plain member shows the datagram, but not the line in it.
    let shown = plain.chat.line();
    assert!(!String::from_utf8_lossy(&shown).contains("plan"), "{shown:?}");
    // Their lines are refused by those who hold the secret, each told once,
    // as what it is: not sealed, or sealed with another secret.
    plain.chat.send("let me in\n");
    stranger.chat.send("me too\n");
    for member in [&listener, &speaker] {
        let mut told: Vec<String> = (0..2)
            .map(|_| {
                member
                    .chat
                    .stderr_line_containing_any(&["could not be authenticated", "is not sealed"])
            })
            .collect();
        told.sort_by_key(|line| !line.contains(&format!(":{} ", plain.port)));
        assert!(
            told[0].contains(&format!("datagram from 127.0.0.1:{} is not sealed", plain.port)),
            "{told:?}"
        );
        assert!(
            told[1].contains(&format!(
                "datagram from 127.0.0.1:{} could not be authenticated",
                stranger.port
            )),
            "{told:?}"
        );
    }
    speaker.chat.send("still just us\n");
    assert!(listener.chat.text_line().ends_with("> still just us"));
    for member in [&mut speaker, &mut listener, &mut plain, &mut stranger] {
        member.chat.close_stdin();
        let (code, stderr) = member.chat.exit_code();
        assert_eq!(code, Some(0), "{stderr}");
    }
    // The stranger, with another secret, showed nothing at all; nor did the
    // speaker, whose own lines come back to it.
    assert_eq!(stranger.chat.try_line(Duration::ZERO), None);
    assert_eq!(speaker.chat.try_line(Duration::ZERO), None);
}

#[test]
fn members_of_a_secured_ipv6_room_on_a_link_each_hear_the_others_once() {
    // The group's zone is no part of what a sealed datagram names.
    let Some(netns) = lan() else { return };
    let secret = SecretFile::secret();
    let port = free_port();
    let room = format!("[{GROUP_V6}]:{port}");
    let zoned = format!("[{GROUP_V6}%v0]:{port}");
    let members = vec![
        Member::join_in(
            &netns,
            &strs(&holding(&secret, &["--group", &room, "--interface", "v0"])),
        ),
        Member::join_in(&netns, &strs(&holding(&secret, &["--group", &zoned]))),
    ];
    each_hears_the_others_once(members, |ip| ip.starts_with("[fe80::1%"));
}
