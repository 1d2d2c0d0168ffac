//! Someone reads what arrives through a pipe: plain text by default, or sanitized, labelled, coloured, as JSON lines.

#![cfg(feature = "cli")]

mod common;

use std::net::UdpSocket;

use common::{Udpchat, loopback_socket};

/// A udpchat with `extra` arguments, printing into a pipe, and a peer that talks to it.
fn chat_with(extra: &[&str], env: &[(&str, &str)]) -> (Udpchat, UdpSocket) {
    let peer = loopback_socket();
    let chat = Udpchat::with_peer_adjusted(&peer, extra, |command| {
        command
            .env_remove("NO_COLOR")
            .env_remove("TZ")
            .envs(env.iter().copied());
    });
    (chat, peer)
}

#[test]
fn received_control_characters_reach_a_pipe_unchanged() {
    let (chat, peer) = chat_with(&[], &[]);
    peer.send_to(b"\x1b[31mred\x07\rX \xe2\x80\xae", chat.bound_addr())
        .unwrap();
    assert_eq!(chat.line(), b"\x1b[31mred\x07\rX \xe2\x80\xae");
}

#[test]
fn sanitize_always_escapes_control_characters_in_a_pipe_too() {
    let (chat, peer) = chat_with(&["--sanitize=always"], &[]);
    peer.send_to(b"\x1b[31mred\x07\rX \xe2\x80\xae \xff", chat.bound_addr())
        .unwrap();
    assert_eq!(chat.text_line(), r"\x1b[31mred\x07\x0dX \u{202e} \xff");
}

#[test]
fn show_sender_and_timestamps_put_the_time_first() {
    let (chat, peer) = chat_with(&["--show-sender", "--timestamps"], &[]);
    peer.send_to(b"hi", chat.bound_addr()).unwrap();
    let line = chat.text_line();
    let (time, rest) = line.split_once(' ').unwrap();
    assert_eq!(rest, format!("<{}> hi", peer.local_addr().unwrap()));
    let parts: Vec<u8> = time.split(':').map(|part| part.parse().unwrap()).collect();
    assert!(
        time.len() == 8 && parts.len() == 3 && parts[0] < 24 && parts[1] < 60 && parts[2] < 61,
        "{line}"
    );
}

#[test]
fn timestamps_label_every_line_of_a_datagram_that_holds_several() {
    let (chat, peer) = chat_with(&["--timestamps"], &[]);
    peer.send_to(b"two\r\nlines\n", chat.bound_addr()).unwrap();
    let (first, second) = (chat.text_line(), chat.text_line());
    let (time, text) = first.split_once(' ').unwrap();
    assert_eq!(time.len(), "10:15:03".len(), "{first}");
    assert_eq!(text, "two");
    assert_eq!(second, format!("{time} lines"));
}

#[test]
fn timestamps_show_the_local_time_of_arrival() {
    // POSIX TZ "UDPCHAT-5" is five hours east of UTC, all year round.
    let (chat, peer) = chat_with(&["--timestamps=rfc3339"], &[("TZ", "UDPCHAT-5")]);
    let before = jiff::Timestamp::now();
    peer.send_to(b"what time is it?", chat.bound_addr()).unwrap();
    let line = chat.text_line();
    let after = jiff::Timestamp::now();
    let (time, text) = line.split_once(' ').unwrap();
    assert_eq!(text, "what time is it?");
    assert!(time.ends_with("+05:00"), "{line}");
    assert_eq!(
        time.split('.').nth(1).map(str::len),
        Some(3 + "+05:00".len()),
        "milliseconds: {line}"
    );
    let arrived: jiff::Timestamp = time.parse().unwrap();
    let slack = jiff::SignedDuration::from_millis(1);
    assert!(
        before - slack <= arrived && arrived <= after + slack,
        "{before} <= {arrived} <= {after}"
    );
}

#[test]
fn timestamps_find_a_named_zone_on_every_system() {
    // A name needs the time zone database: the system's on Unix, the one
    // built into udpchat on Windows, which has none that jiff can read.
    // Asia/Kolkata has been +05:30 all year round since 1945.
    let (chat, peer) = chat_with(&["--timestamps=rfc3339"], &[("TZ", "Asia/Kolkata")]);
    peer.send_to(b"namaste", chat.bound_addr()).unwrap();
    let line = chat.text_line();
    let (time, _) = line.split_once(' ').unwrap();
    assert!(time.ends_with("+05:30"), "{line}");
}

#[test]
fn json_lines_parse_and_keep_non_utf8_bytes() {
    use base64::Engine as _;
    let (chat, peer) = chat_with(&["--format", "json"], &[]);
    let to = chat.bound_addr();
    let before = jiff::Timestamp::now();
    peer.send_to(b"hello", to).unwrap();
    peer.send_to(b"caf\xe9 \"quoted\"\n", to).unwrap();
    let hello: serde_json::Value = serde_json::from_slice(&chat.line()).unwrap();
    let binary: serde_json::Value = serde_json::from_slice(&chat.line()).unwrap();
    let after = jiff::Timestamp::now();

    let from = peer.local_addr().unwrap().to_string();
    assert_eq!(hello["from"], from.as_str());
    assert_eq!(hello["text"], "hello");
    assert_eq!(hello["bytes"], 5);
    assert!(hello.get("base64").is_none(), "{hello}");
    let time = hello["time"].as_str().unwrap();
    assert!(time.ends_with('Z'), "{time}");
    let arrived: jiff::Timestamp = time.parse().unwrap();
    let slack = jiff::SignedDuration::from_millis(1);
    assert!(
        before - slack <= arrived && arrived <= after + slack,
        "{before} <= {arrived} <= {after}"
    );

    assert_eq!(binary["text"], "caf\u{fffd} \"quoted\"\n");
    assert_eq!(binary["bytes"], 14);
    let exact = base64::engine::general_purpose::STANDARD
        .decode(binary["base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(exact, b"caf\xe9 \"quoted\"\n");
}

#[test]
fn color_always_colours_labels_in_a_pipe_and_auto_does_not() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], bool);
    let cases: [Case; 4] = [
        (&[], &[], false),
        (&["--color=always"], &[], true),
        // A flag is the more specific wish: it beats NO_COLOR.
        (&["--color=always"], &[("NO_COLOR", "1")], true),
        (&["--color=never"], &[], false),
    ];
    for (flags, env, coloured) in cases {
        let mut args = vec!["--show-sender"];
        args.extend_from_slice(flags);
        let (chat, peer) = chat_with(&args, env);
        peer.send_to(b"plain text", chat.bound_addr()).unwrap();
        let line = chat.text_line();
        assert_eq!(line.contains('\x1b'), coloured, "{flags:?} {env:?}: {line:?}");
        let label = format!("<{}>", peer.local_addr().unwrap());
        assert!(line.contains(&label) && line.ends_with(" plain text"), "{line:?}");
    }
}

#[test]
fn color_always_colours_warnings_and_errors_on_stderr() {
    for (flag, coloured) in [("--color=auto", false), ("--color=always", true)] {
        let (mut chat, _peer) = chat_with(&[flag], &[]);
        let mut too_long = vec![b'x'; 70_000];
        too_long.push(b'\n');
        chat.send(too_long);
        chat.close_stdin();
        let (code, stderr) = chat.exit_code();
        assert_eq!(code, Some(1), "{stderr}");
        let expected = if coloured {
            "udpchat: \x1b[1;31merror\x1b[0m: line 1 not sent"
        } else {
            "udpchat: error: line 1 not sent"
        };
        assert!(stderr.contains(expected), "{flag}: {stderr:?}");
    }
}
