//! Property tests: for any bytes, input splits into the same lines and datagrams, and output is one labelled line.

mod common;

use std::io::{BufReader, Cursor};
use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

use common::{loopback_socket, recv};
use proptest::prelude::*;
use udpchat::display::{Style, strip_newline};
use udpchat::filter::{Heard, SourceFilter, Verdict};
use udpchat::lines::{Line, LineReader};
use udpchat::{Chat, Config, MAX_PAYLOAD_V4};

/// Bytes in which newlines and carriage returns are common, so lines are many,
/// empty, `\r\n`-ended or `\r`-ended: the cases framing gets wrong.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        3 => Just(b'\n'),
        2 => Just(b'\r'),
        10 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..400)
}

/// What a line reader must make of `input`, written as plainly as possible:
/// split at each `\n`; a piece ended by `\n` loses one `\r` before it; the
/// piece after a final `\n` is no line; pieces over `limit` are only measured.
fn reference_lines(input: &[u8], limit: usize) -> Vec<Result<Vec<u8>, usize>> {
    let mut pieces: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let last = pieces.pop().unwrap_or_default();
    let mut lines: Vec<&[u8]> = pieces
        .into_iter()
        .map(|piece| piece.strip_suffix(b"\r").unwrap_or(piece))
        .collect();
    if !last.is_empty() {
        lines.push(last);
    }
    lines
        .into_iter()
        .map(|line| {
            if line.len() > limit {
                Err(line.len())
            } else {
                Ok(line.to_vec())
            }
        })
        .collect()
}

/// Every line a [`LineReader`] reads from `input`, through a buffer of `capacity`.
fn read_lines(input: &[u8], capacity: usize, limit: usize) -> Vec<Result<Vec<u8>, usize>> {
    let mut reader = LineReader::new(BufReader::with_capacity(capacity, input), limit);
    let mut lines = Vec::new();
    while let Some(line) = reader.next_line().unwrap() {
        lines.push(match line {
            Line::Fits(bytes) => Ok(bytes.to_vec()),
            Line::TooLong(len) => Err(len),
        });
    }
    lines
}

proptest! {
    #[test]
    fn any_byte_stream_splits_into_the_reference_lines(
        input in stream(),
        capacity in 1usize..64,
        limit in 0usize..40,
    ) {
        prop_assert_eq!(read_lines(&input, capacity, limit), reference_lines(&input, limit));
    }

    #[test]
    fn lines_joined_with_lf_or_crlf_read_back_unchanged(
        lines in prop::collection::vec(
            prop::collection::vec(any::<u8>(), 0..50)
                .prop_map(|line| line.into_iter().filter(|&b| b != b'\n').collect::<Vec<u8>>())
                .prop_filter("a line ending in \\r before \\n is a CRLF", |line| line.last() != Some(&b'\r')),
            0..20,
        ),
        crlf in prop::collection::vec(any::<bool>(), 20),
        final_newline in any::<bool>(),
        capacity in 1usize..64,
    ) {
        let mut input = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            input.extend_from_slice(line);
            let last = i + 1 == lines.len();
            if !last || final_newline {
                input.extend_from_slice(if crlf[i] { b"\r\n" } else { b"\n" });
            }
        }
        let mut expected: Vec<Result<Vec<u8>, usize>> = lines.iter().cloned().map(Ok).collect();
        // Without a final newline, an empty last line is no bytes at all.
        if !final_newline && lines.last().is_some_and(Vec::is_empty) {
            expected.pop();
        }
        prop_assert_eq!(read_lines(&input, capacity, MAX_PAYLOAD_V4), expected);
    }

    #[test]
    fn any_datagram_is_shown_as_its_lossy_text_and_one_final_newline(
        datagram in stream(),
        labelled in any::<bool>(),
        before in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let from: SocketAddr = "[2001:db8::1]:2323".parse().unwrap();
        let mut out = before.clone();
        let style = Style { show_sender: labelled, ..Style::default() };
        style.push(&datagram, &from, SystemTime::now(), &mut out);
        // What was already there is untouched; what follows is text.
        prop_assert_eq!(&out[..before.len()], &before[..]);
        let shown = std::str::from_utf8(&out[before.len()..]).expect("always UTF-8");
        let text = strip_newline(&datagram);
        let expected = if labelled {
            // Every line labelled, each without its "\n" or "\r\n".
            let label = format!("<{from}> ");
            let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
            let last = lines.len() - 1;
            lines.iter().enumerate().map(|(i, &line)| {
                let line = if i < last { line.strip_suffix(b"\r").unwrap_or(line) } else { line };
                format!("{label}{}\n", String::from_utf8_lossy(line))
            }).collect()
        } else {
            format!("{}\n", String::from_utf8_lossy(text))
        };
        prop_assert_eq!(shown, expected);
    }

    #[test]
    fn strip_newline_drops_at_most_one_lf_or_crlf(datagram in stream()) {
        let stripped = strip_newline(&datagram);
        let dropped = &datagram[stripped.len()..];
        prop_assert!(datagram.starts_with(stripped));
        prop_assert!(matches!(dropped, b"" | b"\n" | b"\r\n"), "dropped {:?}", dropped);
        if dropped.is_empty() {
            prop_assert!(!datagram.ends_with(b"\n"));
        }
    }

    /// The function the fuzz target drives (`fuzz/fuzz_targets/datagram.rs`),
    /// with the same checks, over addresses from a small pool so that sources
    /// often match the peer.
    #[test]
    fn a_datagram_is_shown_only_from_the_peer_unless_accept_any_and_each_strangers_line_is_labelled(
        datagram in stream(),
        peer in 0usize..4,
        from in 0usize..4,
        port in any::<u16>(),
        accept_any in any::<bool>(),
        show_sender in any::<bool>(),
        sanitize in any::<bool>(),
    ) {
        let pool = ["192.168.1.6", "192.168.1.7", "::ffff:192.168.1.6", "fe80::6"];
        let peer = SocketAddr::new(pool[peer].parse().unwrap(), 2323);
        let from = SocketAddr::new(pool[from].parse().unwrap(), port);
        let same_host = peer.ip().to_canonical() == from.ip().to_canonical();
        let filter = SourceFilter::new(peer, accept_any, Style { show_sender, sanitize, ..Style::default() });
        let mut out = Vec::new();
        let verdict = filter.render(&datagram, &from, SystemTime::now(), &mut out);
        match verdict {
            Verdict::Ignore => {
                prop_assert!(!same_host && !accept_any);
                prop_assert!(out.is_empty());
            }
            Verdict::Show => prop_assert!(same_host && !show_sender),
            Verdict::Echo => prop_assert!(false, "a chat with a peer has no echoes to drop"),
            Verdict::ShowLabelled => {
                prop_assert!(!same_host || show_sender);
                // Every line, so no embedded newline can start an unlabelled one.
                let label = format!("<{from}> ");
                let lines = out.strip_suffix(b"\n").unwrap_or_default();
                for line in lines.split(|&b| b == b'\n') {
                    prop_assert!(line.starts_with(label.as_bytes()), "{:?}", String::from_utf8_lossy(&out));
                }
            }
        }
        if verdict != Verdict::Ignore {
            prop_assert!(std::str::from_utf8(&out).is_ok());
            prop_assert!(out.ends_with(b"\n"));
        }
    }

    /// With several peers or in a room, every line shown names its sender,
    /// and this endpoint's own echo (its port, on one of its addresses) is
    /// never shown.
    #[test]
    fn with_several_senders_every_shown_line_is_labelled_and_no_echo_is_shown(
        datagram in stream(),
        room in any::<bool>(),
        from in 0usize..4,
        port in 40000u16..40004,
        accept_any in any::<bool>(),
    ) {
        let pool = ["192.168.1.6", "192.168.1.7", "::ffff:192.168.1.6", "10.0.0.1"];
        let heard = if room {
            Heard::Networks(vec!["192.168.1.0/24".parse().unwrap()])
        } else {
            Heard::Peers(vec!["192.168.1.6:2323".parse().unwrap(), "192.168.1.7:2323".parse().unwrap()])
        };
        let me: IpAddr = "192.168.1.6".parse().unwrap();
        let filter = SourceFilter::hearing(heard, accept_any, Style::default()).dropping_echoes(40000, vec![me]);
        let from = SocketAddr::new(pool[from].parse().unwrap(), port);
        let mut out = Vec::new();
        let verdict = filter.render(&datagram, &from, SystemTime::now(), &mut out);
        let echo = from.ip().to_canonical() == me && port == 40000;
        prop_assert_eq!(verdict == Verdict::Echo, echo);
        prop_assert_ne!(verdict, Verdict::Show);
        if verdict == Verdict::ShowLabelled {
            let label = format!("<{from}> ");
            for line in out.strip_suffix(b"\n").unwrap_or_default().split(|&b| b == b'\n') {
                prop_assert!(line.starts_with(label.as_bytes()), "{:?}", String::from_utf8_lossy(&out));
            }
        } else {
            prop_assert!(out.is_empty());
        }
    }
}

proptest! {
    // Each case binds two sockets and runs a chat: fewer cases, still many streams.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_byte_stream_arrives_as_one_datagram_per_line(input in stream()) {
        let peer = loopback_socket();
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let chat = Chat::bind(Config {
            bind: loopback,
            ..Config::new(peer.local_addr().unwrap())
        })
        .unwrap();
        let summary = chat.run(Cursor::new(input.clone()), std::io::sink()).unwrap();
        let expected = reference_lines(&input, MAX_PAYLOAD_V4);
        prop_assert_eq!(summary.lines_sent, expected.len() as u64);
        for line in expected {
            prop_assert_eq!(Ok(recv(&peer).0), line);
        }
    }
}
