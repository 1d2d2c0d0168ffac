//! Someone pipes a file into udpchat to send its lines, or logs what arrives with stdin closed.

#![cfg(feature = "cli")]

mod common;

use std::fs::File;
use std::io::Write;
use std::process::Stdio;

use common::{Udpchat, loopback_socket, recv, unique_number};

/// udpchat with stdin from a file of `contents`, sending to `peer`.
fn udpchat_reading(contents: &[u8], peer: &str, extra: &[&str]) -> Udpchat {
    let dir = std::env::temp_dir().join(format!("udpchat-test-{}-{}", std::process::id(), unique_number()));
    let mut file = File::create(&dir).unwrap();
    file.write_all(contents).unwrap();
    let input = File::open(&dir).unwrap();
    std::fs::remove_file(&dir).unwrap();
    let mut args = vec!["-b", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    args.push(peer);
    Udpchat::start_with(&args, |command| {
        command.stdin(Stdio::from(input));
    })
}

#[test]
#[cfg(unix)] // ends the receiver with SIGINT; .ci/wine pipes this file on Windows
fn piped_file_arrives_complete_and_in_order() {
    let lines: Vec<String> = (0..10_000)
        .map(|i| format!("{i:05} {}", "lorem ipsum dolor sit amet ".repeat(2)))
        .collect();
    let file = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    // The receiving end: a udpchat that only prints.
    let mut receiver = Udpchat::start(&["--recv-only", "-b", "127.0.0.1:0", "127.0.0.1:9"]);
    let to = receiver.bound_addr().to_string();
    let mut sender = udpchat_reading(file.as_bytes(), &to, &[]);
    assert_eq!(
        sender.exit_code().0,
        Some(0),
        "sender failed: {}",
        sender.stderr()
    );
    for (i, expected) in lines.iter().enumerate() {
        assert_eq!(receiver.text_line(), *expected, "line {i}");
    }
    receiver.signal(nix::sys::signal::Signal::SIGINT);
    assert_eq!(receiver.exit_code().0, Some(130));
}

#[test]
fn exits_0_once_every_line_is_sent() {
    let peer = loopback_socket();
    let mut chat = udpchat_reading(
        b"a\r\n\n\xff\xfe raw\nno final newline",
        &peer.local_addr().unwrap().to_string(),
        &[],
    );
    assert_eq!(chat.exit_code().0, Some(0));
    for expected in [&b"a"[..], b"", b"\xff\xfe raw", b"no final newline"] {
        assert_eq!(recv(&peer).0, expected);
    }
}

/// `--skip-empty` leaves out a file's empty lines (CRLF ones too), which a
/// netcat or socat peer would take for the end; the others go as they are.
#[test]
fn skip_empty_sends_every_line_of_a_file_but_the_empty_ones() {
    let peer = loopback_socket();
    let mut chat = udpchat_reading(
        b"a\n\n\r\n \nb\n\n",
        &peer.local_addr().unwrap().to_string(),
        &["--skip-empty"],
    );
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    for expected in [&b"a"[..], b" ", b"b"] {
        assert_eq!(recv(&peer).0, expected);
    }
    assert!(
        stderr.contains("3 lines sent, 0 datagrams received, 3 empty lines skipped"),
        "{stderr}"
    );
}

#[test]
fn prints_each_line_promptly_into_a_pipe() {
    let peer = loopback_socket();
    let chat = Udpchat::with_peer(&peer, &[]);
    let to = chat.bound_addr();
    // stdin stays open and stdout is a pipe: each line must still come out at once.
    for i in 0..3 {
        peer.send_to(format!("message {i}").as_bytes(), to).unwrap();
        assert_eq!(chat.text_line(), format!("message {i}"));
    }
}

#[test]
#[cfg(unix)] // ends the lingering chat with SIGINT, which Windows does not have
fn linger_prints_replies_after_the_input_ends() {
    let peer = loopback_socket();
    let mut chat = Udpchat::with_peer(&peer, &["--linger", "30s"]);
    chat.send("question\n");
    chat.close_stdin();
    let (question, to) = recv(&peer);
    assert_eq!(question, b"question");
    peer.send_to(b"answer", to).unwrap();
    assert_eq!(chat.text_line(), "answer");
    chat.signal(nix::sys::signal::Signal::SIGINT);
    assert_eq!(chat.exit_code().0, Some(130));
}

#[test]
fn linger_ends_by_itself() {
    let peer = loopback_socket();
    let mut chat = Udpchat::with_peer(&peer, &["--linger", "200ms"]);
    chat.close_stdin();
    assert_eq!(chat.exit_code().0, Some(0));
}

#[test]
#[cfg(unix)] // ends the chat with SIGTERM, which Windows does not have
fn receive_only_logs_a_peer_with_stdin_closed() {
    let peer = loopback_socket();
    let mut chat = Udpchat::with_peer_adjusted(&peer, &["--recv-only"], |command| {
        command.stdin(Stdio::null());
    });
    let to = chat.bound_addr();
    peer.send_to(b"log me", to).unwrap();
    assert_eq!(chat.text_line(), "log me");
    chat.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(chat.exit_code().0, Some(130));
}

#[test]
fn names_the_line_too_long_to_send_and_sends_the_others() {
    let peer = loopback_socket();
    let mut input = b"first\n".to_vec();
    input.extend(vec![b'x'; 70_000]);
    input.extend_from_slice(b"\nthird\n");
    let mut chat = udpchat_reading(&input, &peer.local_addr().unwrap().to_string(), &[]);
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("line 2 not sent: 70000 bytes"), "{stderr}");
    assert!(stderr.contains("1 of 3 lines not sent"), "{stderr}");
    assert_eq!(recv(&peer).0, b"first");
    assert_eq!(recv(&peer).0, b"third");
}

#[test]
fn a_closed_stdout_ends_quietly_with_status_0() {
    use std::io::{BufRead, BufReader};
    let peer = loopback_socket();
    let (reader, writer) = std::io::pipe().unwrap();
    let mut chat = Udpchat::with_peer_adjusted(&peer, &[], |command| {
        command.stdout(writer);
    });
    let to = chat.bound_addr();
    // Like `udpchat ... | head -n 1`: the reader takes one line and goes away.
    peer.send_to(b"first", to).unwrap();
    let mut reader = BufReader::new(reader);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert_eq!(first, "first\n");
    drop(reader);
    // udpchat learns that its reader went away when it next writes: each
    // datagram is a chance. Send until it has gone, waiting for its exit
    // between two (bounded by the TIMEOUT of exit_code below).
    for _ in 0..100 {
        peer.send_to(b"second", to).unwrap();
        if chat.exited_within(std::time::Duration::from_millis(100)) {
            break;
        }
    }
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("error"),
        "{stderr}"
    );
}

/// Runs `udpchat ARGS < file` in a tmux pane of its own, stderr on the
/// pane's terminal and stdout to /dev/null, and returns the pane's screens:
/// each one read until `seen` says it is the one, then the last after exit.
/// `None` without tmux (see [`common::skip_or_fail`]).
#[cfg(unix)]
fn in_a_terminal(args: &str, file: &std::path::Path, seen: &[&dyn Fn(&str) -> bool]) -> Option<Vec<String>> {
    use std::process::Command;
    if Command::new("tmux").arg("-V").output().is_err() {
        common::skip_or_fail("tmux is not installed (apt-get install tmux)");
        return None;
    }
    let socket = format!("udpchat-meter-{}-{}", std::process::id(), unique_number());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &socket])
            .args(args)
            .output()
            .unwrap()
    };
    let command = format!(
        "{} {args} < {} > /dev/null; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_udpchat"),
        file.display()
    );
    tmux(&["new-session", "-d", "-x", "150", "-y", "10", &command]);
    let mut screens = Vec::new();
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    let done = |screen: &str| screen.contains("EXIT=");
    for wanted in seen.iter().copied().chain([&done as &dyn Fn(&str) -> bool]) {
        loop {
            let screen = String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).into_owned();
            if wanted(&screen) {
                screens.push(screen);
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the screen never showed what was awaited:\n{screen}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    tmux(&["kill-server"]);
    Some(screens)
}

#[test]
#[cfg(unix)] // a terminal in tmux, which Windows does not have
fn a_long_piped_file_shows_its_progress_on_a_terminal_and_clears_it_at_the_end() {
    let peer = loopback_socket();
    let path = std::env::temp_dir().join(format!(
        "udpchat-meter-{}-{}",
        std::process::id(),
        unique_number()
    ));
    let lines: String = (0..600)
        .map(|i| format!("{i:04} lorem ipsum dolor sit amet\n"))
        .collect();
    std::fs::write(&path, &lines).unwrap();
    let args = format!("--rate 300 -b 127.0.0.1:0 {}", peer.local_addr().unwrap());
    let receiving = {
        let peer = peer.try_clone().unwrap();
        std::thread::spawn(move || (0..600).map(|_| recv(&peer).0).collect::<Vec<_>>())
    };
    let bar = |screen: &str| screen.contains("sent ") && screen.contains("%") && screen.contains("left");
    let Some(screens) = in_a_terminal(&args, &path, &[&bar]) else {
        return;
    };
    let shown = screens[0]
        .lines()
        .find(|line| line.contains("%"))
        .unwrap()
        .to_owned();
    assert!(shown.starts_with("sent "), "{shown}");
    assert!(shown.contains("/s") && shown.contains("KiB/"), "{shown}");
    // Cleared at the end: the last screen has the exit and nothing else.
    assert_eq!(screens[1].trim(), "EXIT=0", "{}", screens[1]);
    for (i, line) in receiving.join().unwrap().iter().enumerate() {
        assert_eq!(line, format!("{i:04} lorem ipsum dolor sit amet").as_bytes());
    }

    // -q: no progress either.
    let args = format!("-q -b 127.0.0.1:0 {}", peer.local_addr().unwrap());
    let screens = in_a_terminal(&args, &path, &[]).unwrap();
    assert_eq!(screens[0].trim(), "EXIT=0", "{}", screens[0]);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn no_progress_is_shown_when_stderr_is_not_a_terminal() {
    let peer = loopback_socket();
    let lines: String = (0..2000)
        .map(|i| format!("{i:04} lorem ipsum dolor sit amet\n"))
        .collect();
    let mut chat = udpchat_reading(
        lines.as_bytes(),
        &peer.local_addr().unwrap().to_string(),
        &["--rate", "20000"],
    );
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !stderr.contains('\r') && !stderr.contains("sent 1") && !stderr.contains("%"),
        "{stderr}"
    );
}
