//! Fuzz target: one received datagram from some source, through the source filter and display, to output.
//!
//! Run with `cargo +nightly fuzz run datagram` from the crate's root. The
//! first five bytes choose the flags, the peer, the source and its port; the
//! rest is the datagram. The property tests in `src/receive/mod.rs` run the
//! same checks on every `cargo test`.

#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use udpchat::fuzzing::{Verdict, is_unsafe_char, present};

/// A small pool, so the source is often the peer; it includes an IPv4-mapped
/// twin of the first and link-local addresses with and without a scope id.
const POOL: [&str; 6] = [
    "192.168.1.6:2323",
    "192.168.1.7:2323",
    "[::ffff:192.168.1.6]:2323",
    "[fe80::6%2]:2323",
    "[fe80::6%3]:2323",
    "[fe80::6]:2323",
];

fuzz_target!(|data: &[u8]| {
    let (head, datagram) = data.split_at(data.len().min(5));
    let byte = |i: usize| head.get(i).copied().unwrap_or(0);
    let (accept_any, show_sender, sanitize) = (byte(0) & 1 != 0, byte(0) & 2 != 0, byte(0) & 4 != 0);
    let peer: SocketAddr = POOL[usize::from(byte(1)) % POOL.len()].parse().unwrap();
    let mut from: SocketAddr = POOL[usize::from(byte(2)) % POOL.len()].parse().unwrap();
    from.set_port(u16::from_le_bytes([byte(3), byte(4)]));

    let (verdict, out) = present(datagram, peer, from, accept_any, show_sender, sanitize);
    match verdict {
        Verdict::Ignore => {
            assert!(!accept_any);
            assert!(out.is_empty());
        }
        Verdict::Echo => unreachable!("a chat with a peer has no echoes to drop"),
        Verdict::Show => {
            assert!(!show_sender);
            assert_eq!(peer.ip().to_canonical(), from.ip().to_canonical());
        }
        Verdict::ShowLabelled => {
            // Every line, so no embedded newline can start an unlabelled one.
            // Shown as received: an IPv4-mapped source as plain IPv4, an
            // IPv6 one with its scope id.
            let from = match from {
                SocketAddr::V6(v6) if v6.ip().to_ipv4_mapped().is_some() => {
                    SocketAddr::new(v6.ip().to_canonical(), v6.port())
                }
                other => other,
            };
            let label = format!("<{from}> ");
            let lines = out.strip_suffix(b"\n").expect("ends with a newline");
            for line in lines.split(|&b| b == b'\n') {
                assert!(line.starts_with(label.as_bytes()));
            }
        }
    }
    if verdict != Verdict::Ignore {
        let text = std::str::from_utf8(&out).expect("output is UTF-8");
        assert!(text.ends_with('\n'));
        if sanitize {
            // One line, and nothing that acts on a terminal but tab.
            assert_eq!(text.matches('\n').count(), 1);
            assert!(!text[..text.len() - 1].chars().any(is_unsafe_char));
        }
    }
});
