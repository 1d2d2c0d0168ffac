//! The Windows build, run under Wine, chats with this one on loopback: both ways, a whole file, the local time, a room.
//!
//! Every test here needs udpchat.exe and Wine, so each is `#[ignore]`d: a
//! plain `cargo test` lists them as ignored, never as passed. `.ci/wine`
//! builds udpchat.exe and runs them with `--ignored`, `UDPCHAT_WINDOWS_EXE`
//! naming it; asked to run without it, they fail in CI and elsewhere skip,
//! saying so (`common::skip_or_fail`).

#![cfg(all(feature = "cli", target_os = "linux"))]

mod common;

use std::fs::File;
use std::io::Write;
use std::net::{Ipv4Addr, UdpSocket};
use std::process::Stdio;

use common::{Udpchat, free_port, loopback_socket};
use socket2::SockRef;

/// udpchat.exe's path, or `None` where it is not given (see [`common::skip_or_fail`]).
fn windows_udpchat() -> Option<String> {
    let exe = std::env::var("UDPCHAT_WINDOWS_EXE").ok();
    if exe.is_none() {
        common::skip_or_fail(
            "UDPCHAT_WINDOWS_EXE does not name udpchat.exe (.ci/wine builds it and sets it)",
        );
    }
    exe
}

/// `wine udpchat.exe ARGS`, with `-v`.
fn windows(exe: &str, args: &[&str], adjust: impl FnOnce(&mut std::process::Command)) -> Udpchat {
    Udpchat::start_other("wine", &[exe], args, adjust)
}

#[test]
#[ignore = "runs udpchat.exe under Wine: .ci/wine runs it, with --ignored"]
fn chats_both_ways_with_the_windows_build_and_both_end_on_end_of_input() {
    let Some(exe) = windows_udpchat() else { return };
    let linux_port = free_port();
    let mut windows = windows(
        &exe,
        &["-b", "127.0.0.1:0", &format!("127.0.0.1:{linux_port}")],
        |_| {},
    );
    let windows_addr = windows.bound_addr().to_string();
    let mut linux = Udpchat::start(&["-b", &format!("127.0.0.1:{linux_port}"), &windows_addr]);
    linux.bound_addr();

    linux.send("hello from Linux\n");
    assert_eq!(windows.text_line(), "hello from Linux");
    windows.send("hello from Windows\n");
    assert_eq!(linux.text_line(), "hello from Windows");

    windows.close_stdin();
    let (code, stderr) = windows.exit_code();
    assert_eq!(code, Some(0), "udpchat.exe: {stderr}");
    linux.close_stdin();
    let (code, stderr) = linux.exit_code();
    assert_eq!(code, Some(0), "udpchat: {stderr}");
}

#[test]
#[ignore = "runs udpchat.exe under Wine: .ci/wine runs it, with --ignored"]
fn the_windows_build_sends_every_line_of_a_10000_line_file_then_exits_0() {
    let Some(exe) = windows_udpchat() else { return };
    let lines: Vec<String> = (0..10_000)
        .map(|i| format!("{i:05} {}", "lorem ipsum dolor sit amet ".repeat(2)))
        .collect();
    let path = std::env::temp_dir().join(format!("udpchat-wine-{}.txt", std::process::id()));
    let mut file = File::create(&path).unwrap();
    for line in &lines {
        writeln!(file, "{line}").unwrap();
    }
    let input = File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();

    let receiver = Udpchat::start(&["--recv-only", "-b", "127.0.0.1:0", "127.0.0.1:9"]);
    let to = receiver.bound_addr().to_string();
    let mut sender = windows(&exe, &["-b", "127.0.0.1:0", &to], |command| {
        command.stdin(Stdio::from(input));
    });
    let (code, stderr) = sender.exit_code();
    assert_eq!(code, Some(0), "udpchat.exe: {stderr}");
    assert!(stderr.contains("10000 lines sent"), "udpchat.exe: {stderr}");
    for (i, expected) in lines.iter().enumerate() {
        assert_eq!(receiver.text_line(), *expected, "line {i}");
    }
}

#[test]
#[ignore = "runs udpchat.exe under Wine: .ci/wine runs it, with --ignored"]
fn the_windows_build_shows_the_time_in_the_zone_windows_is_set_to() {
    let Some(exe) = windows_udpchat() else { return };
    // Wine takes Windows' zone from TZ on the Linux side; `set TZ=` hides
    // TZ from the Windows side, so udpchat.exe must ask Windows for its zone
    // and find it in its own database. Asia/Kolkata is +05:30 all year.
    let exe = std::fs::canonicalize(exe).unwrap();
    let exe = format!("Z:{}", exe.display()).replace('/', "\\");
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let lead = ["cmd", "/c", "set", "TZ=&&", &exe];
    let args = ["--timestamps=rfc3339", "-b", "127.0.0.1:0", &peer_addr];
    let mut chat = Udpchat::start_other("wine", &lead, &args, |command| {
        command.env("TZ", "Asia/Kolkata");
    });
    peer.send_to(b"namaste", chat.bound_addr()).unwrap();
    let line = chat.text_line();
    let (time, _) = line.split_once(' ').unwrap();
    assert!(time.ends_with("+05:30"), "{line}");
    chat.close_stdin();
    assert_eq!(chat.exit_code().0, Some(0));
}

#[test]
#[ignore = "runs udpchat.exe under Wine: .ci/wine runs it, with --ignored"]
fn a_windows_room_member_hears_this_hosts_networks_on_an_interface_named_as_linux_names_it() {
    let Some(exe) = windows_udpchat() else { return };
    // Wine lists Linux's interfaces under their Linux names: `lo` here.
    let group = format!("239.255.23.23:{}", free_port());
    let mut member = windows(&exe, &["--group", &group, "--interface", "lo"], |_| {});
    let hearing = member.stderr_line_containing("chatting in the multicast room");
    assert!(hearing.contains("127.0.0.0/8"), "{hearing}");

    // Another member, on this host: a plain socket sending on `lo`.
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    let socket = SockRef::from(&other);
    socket.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
    socket.set_multicast_ttl_v4(0).unwrap();
    other.send_to(b"hello, room", group.as_str()).unwrap();
    let from = other.local_addr().unwrap();
    assert_eq!(member.text_line(), format!("<{from}> hello, room"));
    member.close_stdin();
}
