//! Several peers: each line goes to every peer, each peer's lines show labelled, strangers stay out.
//!
//! As in `strangers.rs`, 127.0.0.1 and ::1 play different hosts for a
//! udpchat bound to the dual-stack `[::]:0`.

#![cfg(feature = "cli")]

mod common;

use std::net::{SocketAddr, UdpSocket};

use common::{Udpchat, ipv6_loopback_socket, loopback_socket, recv};

/// udpchat's address as `socket` reaches it: over the same loopback.
fn via(chat_port: u16, socket: &UdpSocket) -> SocketAddr {
    SocketAddr::new(socket.local_addr().unwrap().ip(), chat_port)
}

#[test]
fn one_sender_reaches_two_peers_and_shows_each_peers_lines_labelled() {
    let Some(stranger) = ipv6_loopback_socket() else {
        return;
    };
    let (first, second) = (loopback_socket(), loopback_socket());
    let (first_addr, second_addr) = (first.local_addr().unwrap(), second.local_addr().unwrap());
    // One peer as an argument, the other with --peer.
    let mut chat = Udpchat::start(&[
        "-b",
        "[::]:0",
        &first_addr.to_string(),
        "--peer",
        &second_addr.to_string(),
    ]);
    let port = chat.bound_addr().port();
    chat.send("hello, both\n");
    assert_eq!(recv(&first).0, b"hello, both");
    assert_eq!(recv(&second).0, b"hello, both");

    // The stranger speaks first; the kernel keeps the order, so by the time
    // the peers' lines show, its datagram has been judged.
    stranger.send_to(b"let me in", via(port, &stranger)).unwrap();
    first.send_to(b"from the first", via(port, &first)).unwrap();
    second.send_to(b"from the second", via(port, &second)).unwrap();
    assert_eq!(chat.text_line(), format!("<{first_addr}> from the first"));
    assert_eq!(chat.text_line(), format!("<{second_addr}> from the second"));
    let warning = chat.stderr_line_containing("ignoring datagrams");
    assert!(
        warning.contains("other than the peers 127.0.0.1, first from [::1]"),
        "{warning}"
    );
    chat.close_stdin();
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(chat.try_line(std::time::Duration::ZERO), None, "{stderr}");
}

#[test]
fn an_ipv4_and_an_ipv6_peer_share_one_dual_stack_socket() {
    let Some(v6) = ipv6_loopback_socket() else { return };
    let v4 = loopback_socket();
    let (v4_addr, v6_addr) = (v4.local_addr().unwrap(), v6.local_addr().unwrap());
    // A bare port binds the peers' family: dual-stack, since one is IPv6.
    let mut chat = Udpchat::start(&["-b", "0", &v4_addr.to_string(), &v6_addr.to_string()]);
    let bound = chat.bound_addr();
    assert_eq!(bound.ip().to_string(), "::", "{bound}");
    chat.send("to both families\n");
    assert_eq!(recv(&v4).0, b"to both families");
    assert_eq!(recv(&v6).0, b"to both families");
    v6.send_to(b"over IPv6", via(bound.port(), &v6)).unwrap();
    assert_eq!(chat.text_line(), format!("<{v6_addr}> over IPv6"));
    v4.send_to(b"over IPv4", via(bound.port(), &v4)).unwrap();
    assert_eq!(chat.text_line(), format!("<{v4_addr}> over IPv4"));
    chat.close_stdin();
    assert_eq!(chat.exit_code().0, Some(0));
}

#[test]
fn two_ipv6_peers_on_loopback_hear_each_line() {
    let Some(first) = ipv6_loopback_socket() else {
        return;
    };
    let Some(second) = ipv6_loopback_socket() else {
        return;
    };
    let stranger = loopback_socket();
    let peers = [first.local_addr().unwrap(), second.local_addr().unwrap()];
    let mut chat = Udpchat::start(&["-b", "[::]:0", &peers[0].to_string(), &peers[1].to_string()]);
    let port = chat.bound_addr().port();
    chat.send("hi [::1] twice\n");
    assert_eq!(recv(&first).0, b"hi [::1] twice");
    assert_eq!(recv(&second).0, b"hi [::1] twice");
    stranger
        .send_to(b"an IPv4 stranger", via(port, &stranger))
        .unwrap();
    second.send_to(b"from the second", via(port, &second)).unwrap();
    assert_eq!(chat.text_line(), format!("<{}> from the second", peers[1]));
    chat.close_stdin();
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("ignored 1 datagram from hosts other than ::1"),
        "{stderr}"
    );
}

#[test]
fn a_chat_with_its_own_address_says_so_and_does_not_show_its_own_lines() {
    // `udpchat 127.0.0.1:2323` on the default 0.0.0.0:2323, on a free port.
    // -vvv: each datagram's verdict is logged, so the echo can be waited for.
    // A port free a moment ago may be taken by another test meanwhile: then another.
    let (mut chat, own) = (0..5)
        .find_map(|_| {
            let port = common::free_port();
            let own = format!("127.0.0.1:{port}");
            let chat = Udpchat::start(&["-vv", "-b", &format!("0.0.0.0:{port}"), &own]);
            let line = chat.stderr_line_containing_any(&["own address", "Address already in use"]);
            line.contains(&format!("{own} is this chat's own address"))
                .then_some((chat, own))
        })
        .expect("a free port within 5 tries");
    chat.send("hello, me\n");
    chat.stderr_line_containing("not shown (this chat's own line, come back)");
    // Another endpoint on the same host is still heard.
    let other = common::loopback_socket();
    other
        .send_to(b"from another port", own.parse::<std::net::SocketAddr>().unwrap())
        .unwrap();
    assert_eq!(chat.text_line(), "from another port");
    chat.close_stdin();
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
}
