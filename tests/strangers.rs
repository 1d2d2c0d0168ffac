//! Who may talk: the peer's IP is heard from any port, other hosts are ignored unless --accept-any.
//!
//! Test traffic may only use 127.0.0.1 and ::1, so those two play two hosts:
//! udpchat binds a dual-stack `[::]:0` socket, which hears both; the peer is
//! a socket on one loopback and the stranger a socket on the other. To
//! udpchat they are different IP addresses, exactly as two LAN hosts are.

#![cfg(feature = "cli")]

mod common;

use std::time::Instant;

use common::{Lan, Udpchat, ipv6_loopback_socket, loopback_socket};

/// udpchat with `flags`, its peer and a stranger; `None` where there is no IPv6 loopback.
fn lan(flags: &[&str]) -> Option<Lan> {
    Lan::start(flags, |_| true)
}

#[test]
fn shows_the_peer_from_any_port_and_ignores_a_stranger() {
    let Some(mut lan) = lan(&[]) else { return };
    let stranger = lan.stranger.local_addr().unwrap();
    // The kernel queues datagrams in order, so once the peer's line shows, the
    // stranger's (sent first) has been judged.
    lan.stranger.send_to(b"forged by a stranger", lan.via_v6).unwrap();
    lan.peer.send_to(b"from the peer", lan.via_v4).unwrap();
    let second_socket = loopback_socket();
    second_socket
        .send_to(b"from the peer's second socket", lan.via_v4)
        .unwrap();
    assert_eq!(lan.chat.text_line(), "from the peer");
    assert_eq!(lan.chat.text_line(), "from the peer's second socket");
    let warning = lan.chat.stderr_line_containing("ignoring datagrams");
    assert_eq!(
        warning.trim_end(),
        format!(
            "udpchat: warning: ignoring datagrams from hosts other than the peer 127.0.0.1, \
             first from {stranger}; --accept-any shows them"
        )
    );
    lan.chat.close_stdin();
    let (code, stderr) = lan.chat.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("info: ignored 1 datagram from hosts other than 127.0.0.1"),
        "{stderr}"
    );
}

#[test]
fn an_ipv6_peer_does_not_hear_an_ipv4_stranger() {
    let Some(peer) = ipv6_loopback_socket() else {
        return;
    };
    let stranger = loopback_socket();
    let chat = Udpchat::start(&["-b", "[::]:0", &peer.local_addr().unwrap().to_string()]);
    let port = chat.bound_addr().port();
    stranger
        .send_to(b"forged over IPv4", ("127.0.0.1", port))
        .unwrap();
    peer.send_to(b"from the IPv6 peer", ("::1", port)).unwrap();
    assert_eq!(chat.text_line(), "from the IPv6 peer");
}

#[test]
fn accept_any_labels_a_strangers_lines_and_not_the_peers() {
    let Some(lan) = lan(&["--accept-any"]) else { return };
    let stranger = lan.stranger.local_addr().unwrap();
    lan.stranger
        .send_to(b"hello from a stranger", lan.via_v6)
        .unwrap();
    lan.peer.send_to(b"hello from the peer", lan.via_v4).unwrap();
    assert_eq!(
        lan.chat.text_line(),
        format!("<{stranger}> hello from a stranger")
    );
    assert_eq!(lan.chat.text_line(), "hello from the peer");
}

#[test]
fn accept_any_with_show_sender_labels_every_line() {
    let Some(lan) = lan(&["--accept-any", "--show-sender"]) else {
        return;
    };
    let (stranger, peer) = (lan.stranger.local_addr().unwrap(), lan.peer.local_addr().unwrap());
    lan.stranger.send_to(b"one", lan.via_v6).unwrap();
    lan.peer.send_to(b"two", lan.via_v4).unwrap();
    assert_eq!(lan.chat.text_line(), format!("<{stranger}> one"));
    assert_eq!(lan.chat.text_line(), format!("<{peer}> two"));
}

#[test]
fn a_flood_of_strangers_is_logged_in_a_few_debug_lines() {
    let Some(mut lan) = lan(&["-vv"]) else { return };
    let started = Instant::now();
    for i in 0..2_000 {
        lan.stranger
            .send_to(format!("noise {i}").as_bytes(), lan.via_v6)
            .unwrap();
    }
    lan.peer.send_to(b"after the noise", lan.via_v4).unwrap();
    assert_eq!(lan.chat.text_line(), "after the noise");
    lan.chat.close_stdin();
    let (code, stderr) = lan.chat.exit_code();
    let seconds = started.elapsed().as_secs() + 1;
    assert_eq!(code, Some(0), "{stderr}");
    let logged = stderr
        .lines()
        .filter(|line| line.contains("debug: ignored "))
        .count() as u64;
    // Ten a second at most; at least ten, since a few hundred surely arrived.
    assert!(
        (10..=10 * seconds).contains(&logged),
        "{logged} debug lines in about {seconds} s:\n{stderr}"
    );
}

#[test]
fn a_stranger_cannot_forge_an_unlabelled_line_with_an_embedded_newline() {
    let Some(lan) = lan(&["--accept-any"]) else { return };
    let stranger = lan.stranger.local_addr().unwrap();
    lan.stranger
        .send_to(b"hi\nthis is the peer: send me the key\r\n", lan.via_v6)
        .unwrap();
    assert_eq!(lan.chat.text_line(), format!("<{stranger}> hi"));
    assert_eq!(
        lan.chat.text_line(),
        format!("<{stranger}> this is the peer: send me the key")
    );
}
