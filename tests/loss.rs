//! Someone sends faster than the receiver can take: udpchat says how much the kernel dropped, and `--rate` paces a file.

#![cfg(feature = "cli")]

mod common;

#[cfg(target_os = "linux")] // the drop-counting test's waits
use std::time::Duration;
use std::time::Instant;

use common::{Udpchat, loopback_socket, recv, two_udpchats};
#[cfg(target_os = "linux")] // only Linux counts drops (SO_RXQ_OVFL)
use nix::sys::signal::Signal;

/// The numbers in udpchat's `-v` summary at exit:
/// `N lines sent, N datagrams received, N dropped by the kernel`.
#[cfg(target_os = "linux")] // only the drop-counting tests read them
fn summary(stderr: &str) -> (u64, u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.contains(" sent, ") && l.contains(" received, "))
        .unwrap_or_else(|| panic!("no summary on stderr:\n{stderr}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    match numbers[..] {
        [sent, received, dropped] => (sent, received, dropped),
        _ => panic!("unexpected summary: {line}"),
    }
}

/// Every datagram count udpchat warned about, added up.
#[cfg(target_os = "linux")]
fn warned_drops(stderr: &str) -> u64 {
    stderr
        .lines()
        .filter_map(|l| l.split("the kernel dropped ").nth(1))
        .map(|rest| rest.split(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[test]
#[cfg(target_os = "linux")]
fn reports_the_datagrams_the_kernel_dropped_while_the_receive_buffer_was_full() {
    // The smallest buffer the kernel allows holds only a few datagrams.
    let peer = loopback_socket();
    let mut chat = Udpchat::with_peer(&peer, &["--recv-only", "--recv-buffer", "1K"]);
    let to = chat.bound_addr();
    // A stopped receiver takes nothing, so a burst must overflow its buffer.
    chat.signal(Signal::SIGSTOP);
    const BURST: u64 = 200;
    for i in 0..BURST {
        peer.send_to(format!("burst {i:03} {}", "x".repeat(100)).as_bytes(), to)
            .unwrap();
    }
    chat.signal(Signal::SIGCONT);
    // Linux reports drops with the datagrams queued after them: send markers
    // until one gets through (one may still meet a full buffer). Once the
    // latest is printed, every earlier datagram was printed or dropped.
    let mut sent = BURST;
    let mut printed = 0u64;
    'marked: loop {
        let marker = format!("marker {sent}");
        peer.send_to(marker.as_bytes(), to).unwrap();
        sent += 1;
        while let Some(line) = chat.try_line(Duration::from_millis(100)) {
            printed += 1;
            if line == marker.as_bytes() {
                break 'marked;
            }
        }
        assert!(
            sent < BURST + 100,
            "no marker got through; stderr:\n{}",
            chat.stderr()
        );
    }
    chat.stderr_line_containing("the kernel dropped");
    chat.signal(Signal::SIGINT);
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(130), "{stderr}");

    let (lines_sent, received, dropped) = summary(&stderr);
    assert!(dropped > 0, "{stderr}");
    assert_eq!(lines_sent, 0, "{stderr}");
    assert_eq!(received, printed, "{stderr}");
    // On loopback nothing else loses datagrams: each was printed or counted.
    assert_eq!(received + dropped, sent, "{stderr}");
    assert_eq!(warned_drops(&stderr), dropped, "{stderr}");
}

#[test]
fn the_verbose_summary_counts_lines_sent_and_datagrams_received() {
    let (mut a, mut b) = two_udpchats(&[]);
    b.send("one\ntwo\n");
    assert_eq!(a.text_line(), "one");
    assert_eq!(a.text_line(), "two");
    a.send("three\nfour\nfive\n");
    for expected in ["three", "four", "five"] {
        assert_eq!(b.text_line(), expected);
    }
    a.close_stdin();
    let (code, stderr) = a.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    let dropped = if cfg!(target_os = "linux") {
        "0 dropped by the kernel"
    } else {
        "drops not countable on this system"
    };
    let expected = format!("3 lines sent, 2 datagrams received, {dropped}");
    assert!(stderr.contains(&expected), "{stderr}");
    b.close_stdin();
    let (code, stderr) = b.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    let expected = format!("2 lines sent, 3 datagrams received, {dropped}");
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn the_verbose_summary_says_1_line_and_1_datagram() {
    let (mut a, mut b) = two_udpchats(&[]);
    b.send("one\n");
    assert_eq!(a.text_line(), "one");
    a.send("two\n");
    assert_eq!(b.text_line(), "two");
    a.close_stdin();
    let (code, stderr) = a.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("info: 1 line sent, 1 datagram received, "),
        "{stderr}"
    );
}

#[test]
fn rate_spaces_the_lines_of_a_piped_file() {
    let peer = loopback_socket();
    let mut chat = Udpchat::with_peer(&peer, &["--rate", "50"]);
    // 21 lines at 50 a second are 20 intervals of 20 ms: at least 400 ms from
    // the first to the last. Unpaced, they take well under a millisecond.
    chat.send((0..21).map(|i| format!("line {i}\n")).collect::<String>());
    chat.close_stdin();
    let (first, _) = recv(&peer);
    let started = Instant::now();
    assert_eq!(first, b"line 0");
    for i in 1..21 {
        assert_eq!(recv(&peer).0, format!("line {i}").as_bytes());
    }
    let span = started.elapsed();
    // Generous: a slow reader here can only shorten the span by delaying the
    // first datagram, by far less than half of it.
    assert!(
        span.as_millis() >= 200,
        "21 lines at --rate 50 arrived within {span:?}"
    );
    assert_eq!(chat.exit_code().0, Some(0));
}

#[test]
#[cfg(target_os = "linux")]
fn logs_the_receive_buffer_the_system_granted() {
    // Linux doubles the size asked for (for its bookkeeping), up to net.core.rmem_max.
    let chat = Udpchat::start(&["--recv-buffer", "50K", "-b", "127.0.0.1:0", "127.0.0.1:9"]);
    let line = chat.stderr_line_containing("receive buffer");
    assert!(line.contains("receive buffer 102400 bytes"), "{line}");
}

#[test]
#[cfg(target_os = "linux")]
fn a_drop_warning_does_not_claim_the_peers_lines_were_lost_when_it_cannot_know() {
    // Only a stranger's datagrams overflow the buffer; the kernel does not
    // say whose it dropped, so neither may udpchat.
    let Some(lan) = common::Lan::start(&["--recv-buffer", "1K"], |_| true) else {
        return;
    };
    lan.chat.signal(Signal::SIGSTOP);
    for i in 0..200 {
        lan.stranger
            .send_to(format!("noise {i:03} {}", "x".repeat(100)).as_bytes(), lan.via_v6)
            .unwrap();
    }
    lan.chat.signal(Signal::SIGCONT);
    // The next datagram queued after the drops brings their count.
    let mut sent = 0;
    'marked: loop {
        let marker = format!("marker {sent}");
        lan.peer.send_to(marker.as_bytes(), lan.via_v4).unwrap();
        sent += 1;
        while let Some(line) = lan.chat.try_line(Duration::from_millis(100)) {
            if line == marker.as_bytes() {
                break 'marked;
            }
        }
        assert!(
            sent < 100,
            "no marker got through; stderr:\n{}",
            lan.chat.stderr()
        );
    }
    let warning = lan.chat.stderr_line_containing("the kernel dropped");
    assert!(!warning.contains("lines were lost"), "{warning}");
    assert!(warning.contains("it does not say whose"), "{warning}");
}

#[test]
#[cfg(target_os = "linux")]
fn a_receive_buffer_granted_far_below_the_request_is_a_warning_by_default() {
    let rmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0);
    if rmem_max == 0 || rmem_max >= 256 << 20 {
        common::skip_or_fail(format_args!(
            "net.core.rmem_max ({rmem_max}) is unreadable or grants 1G: no warning to see"
        ));
        return;
    }
    let (code, stderr) = common::run(&["--recv-buffer", "1G", "-b", "127.0.0.1:0", "127.0.0.1:9"]);
    assert_eq!(code, Some(0), "{stderr}");
    let expected = format!(
        "udpchat: warning: the system granted a receive buffer of {} bytes, far less than the 1073741824 asked for",
        2 * rmem_max
    );
    assert!(stderr.contains(&expected), "{stderr}");
    // The default asks for 4M and takes what it gets without a word.
    let (code, stderr) = common::run(&["-b", "127.0.0.1:0", "127.0.0.1:9"]);
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
}
