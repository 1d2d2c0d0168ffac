//! Odd cases a LAN brings: empty and oversized datagrams, a peer that restarts, Ctrl-Z, a reader that goes away.

#![cfg(feature = "cli")]

mod common;

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use common::{Rng, TIMEOUT, Udpchat, loopback_socket, recv};
use udpchat::Chat;
// For the tests of Ctrl-Z (SIGSTOP, SIGCONT) and of a pipeline into head:
// job control and a shell, which Windows does not have.
#[cfg(unix)]
use {
    common::{free_port, run_via},
    nix::sys::signal::Signal,
    std::sync::Arc,
    std::sync::atomic::{AtomicBool, Ordering},
};

#[test]
fn prints_an_empty_datagram_from_the_peer_as_an_empty_line() {
    let peer = loopback_socket();
    let chat = Udpchat::with_peer(&peer, &[]);
    let to = chat.bound_addr();
    peer.send_to(b"", to).unwrap();
    peer.send_to(b"after the empty one", to).unwrap();
    assert_eq!(chat.text_line(), "");
    assert_eq!(chat.text_line(), "after the empty one");
}

#[test]
fn prints_the_largest_datagram_of_random_bytes_and_carries_on() {
    let peer = loopback_socket();
    let chat = Udpchat::with_peer(&peer, &[]);
    let to = chat.bound_addr();
    let mut big = vec![0u8; Chat::MAX_PAYLOAD_V4];
    Rng::from_env_or_clock().fill(&mut big);
    // No newlines, so it is one line; every other byte value may occur.
    for byte in &mut big {
        if *byte == b'\n' {
            *byte = b' ';
        }
    }
    peer.send_to(&big, to).unwrap();
    peer.send_to(b"next", to).unwrap();
    // Shown whole: invalid bytes are replaced, never dropped, so nothing shrinks.
    let shown = chat.line();
    assert!(shown.len() >= big.len(), "{} bytes shown", shown.len());
    assert_eq!(chat.text_line(), "next");
}

/// Binds `addr` again after its socket was closed. Sockets are close-on-exec,
/// not close-on-fork: a process another test is starting at that moment holds
/// a copy of the closed socket until it execs, so on a busy machine the port
/// can stay taken for a few milliseconds.
fn rebind(addr: SocketAddr) -> UdpSocket {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match UdpSocket::bind(addr) {
            Ok(socket) => return socket,
            Err(err) if err.kind() == io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(err) => panic!("cannot bind {addr} again: {err}"),
        }
    }
}

#[test]
fn keeps_chatting_when_the_peer_restarts_on_the_same_port() {
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap();
    let mut chat = Udpchat::with_peer(&peer, &[]);
    let to = chat.bound_addr();
    chat.send("before\n");
    assert_eq!(recv(&peer).0, b"before");

    drop(peer); // the peer's process ends...
    chat.send("while the peer is down\n");
    let peer = rebind(peer_addr); // ... and starts again
    peer.set_read_timeout(Some(TIMEOUT)).unwrap();

    peer.send_to(b"back again", to).unwrap();
    assert_eq!(chat.text_line(), "back again");
    chat.send("welcome back\n");
    // The line sent while it was down is lost, or arrives if the new socket was quicker.
    let mut got = recv(&peer).0;
    if got == b"while the peer is down" {
        got = recv(&peer).0;
    }
    assert_eq!(got, b"welcome back");
    chat.close_stdin();
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
#[cfg(unix)] // Ctrl-Z and fg are job control, which Windows does not have
fn keeps_chatting_after_being_stopped_and_continued() {
    // Ctrl-Z then `fg`: every blocked call is interrupted by the stop and the continue.
    let peer = loopback_socket();
    let mut chat = Udpchat::with_peer(&peer, &[]);
    let to = chat.bound_addr();
    chat.signal(Signal::SIGSTOP);
    peer.send_to(b"said while stopped", to).unwrap();
    chat.send("typed while stopped\n");
    chat.signal(Signal::SIGCONT);
    assert_eq!(chat.text_line(), "said while stopped");
    assert_eq!(recv(&peer).0, b"typed while stopped");
    chat.close_stdin();
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
#[cfg(unix)] // a bash pipeline into head, which Windows does not have
fn exits_quietly_when_head_closes_its_output_mid_flood() {
    // `udpchat ... | head -n 1`, with pipefail so the status is udpchat's own.
    let peer = loopback_socket();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let peer_addr = peer.local_addr().unwrap().to_string();
    let done = Arc::new(AtomicBool::new(false));
    let flooding = {
        let done = done.clone();
        thread::spawn(move || {
            // Until udpchat exits: before it binds these go nowhere, after it they are printed.
            while !done.load(Ordering::Relaxed) {
                let _ = peer.send_to(b"a line for head", ("127.0.0.1", port));
            }
        })
    };
    let script = r#"set -o pipefail; "$0" "$@" | head -n 1 > /dev/null"#;
    // -q: a busy machine may make the kernel drop some of the flood, which
    // udpchat rightly warns about; errors and panics still show.
    let args = [
        "-c",
        script,
        env!("CARGO_BIN_EXE_udpchat"),
        "-q",
        "--recv-only",
        "-b",
        &bind,
        &peer_addr,
    ];
    let (code, stderr) = run_via("bash", &args, &[]);
    done.store(true, Ordering::Relaxed);
    flooding.join().unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "", "no error on stderr, panic or otherwise");
}
