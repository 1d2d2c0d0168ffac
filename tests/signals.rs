//! Ending a chat: end of input, Ctrl-C (SIGINT) and SIGTERM, each with its exit status.

#![cfg(feature = "cli")]

mod common;

use common::{Udpchat, loopback_socket};
// Unix only: on Windows, Ctrl-C reaches the same handler through
// SetConsoleCtrlHandler (the ctrlc crate), which no test here can press.
#[cfg(unix)]
use {nix::sys::signal::Signal, std::time::Instant};

/// A udpchat whose stdin is an open pipe (a person who is not typing), that
/// has already printed one received line.
fn idle_chat_after_one_line() -> Udpchat {
    let peer = loopback_socket();
    let chat = Udpchat::with_peer(&peer, &[]);
    peer.send_to(b"already printed", chat.bound_addr()).unwrap();
    assert_eq!(chat.text_line(), "already printed");
    chat
}

#[test]
#[cfg(unix)] // sends SIGINT, which Windows does not have
fn exits_with_130_on_ctrl_c_while_blocked_on_stdin_and_socket() {
    let mut chat = idle_chat_after_one_line();
    let sent = Instant::now();
    chat.signal(Signal::SIGINT);
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(130), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    eprintln!("SIGINT to exit: {:?}", sent.elapsed());
}

#[test]
#[cfg(unix)] // sends SIGTERM, which Windows does not have
fn exits_with_130_on_sigterm() {
    let mut chat = idle_chat_after_one_line();
    chat.signal(Signal::SIGTERM);
    assert_eq!(chat.exit_code().0, Some(130));
}

#[test]
fn exits_0_at_end_of_input() {
    let mut chat = idle_chat_after_one_line();
    chat.close_stdin();
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn an_idle_chat_does_not_exit_by_itself() {
    let mut chat = idle_chat_after_one_line();
    // Nothing arrives and nothing is typed: it must still be waiting.
    assert_eq!(chat.try_line(std::time::Duration::from_millis(300)), None);
    assert!(chat.is_running());
}

/// udpchat's `-v` summary line, if it printed one.
#[cfg(unix)] // only the tests that signal udpchat look for it
fn has_summary(stderr: &str) -> bool {
    stderr
        .lines()
        .any(|line| line.contains(" sent, ") && line.contains(" received, "))
}

#[test]
#[cfg(unix)] // sends SIGINT and SIGTERM, which Windows does not have
fn signals_that_arrive_together_count_as_one_and_the_summary_is_printed() {
    // `timeout` sends its signal to udpchat and then to its process group:
    // two at once. Each run, both in one go, one right after the other.
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        for run in 0..5 {
            let mut chat = idle_chat_after_one_line();
            chat.signal(signal);
            chat.signal(signal);
            let (code, stderr) = chat.exit_code();
            assert_eq!(code, Some(130), "{signal} run {run}: {stderr}");
            assert!(has_summary(&stderr), "{signal} run {run}: no summary:\n{stderr}");
        }
    }
}

#[test]
#[cfg(unix)] // runs timeout(1), which signals udpchat
fn timeout_ends_a_chat_with_its_summary() {
    let peer = loopback_socket();
    let peer = peer.local_addr().unwrap().to_string();
    let bin = env!("CARGO_BIN_EXE_udpchat");
    let args = [
        "--preserve-status",
        "-s",
        "INT",
        "0.2",
        bin,
        "-v",
        "--recv-only",
        "-b",
        "127.0.0.1:0",
        &peer,
    ];
    if std::process::Command::new("timeout")
        .arg("--version")
        .output()
        .is_err()
    {
        common::skip_or_fail("no timeout(1) (coreutils)");
        return;
    }
    let (code, stderr) = common::run_via("timeout", &args, &[]);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(has_summary(&stderr), "{stderr}");
}

#[test]
#[cfg(unix)] // sends SIGHUP, which Windows does not have
fn sighup_ends_the_chat_with_130_as_the_exit_statuses_say() {
    let mut chat = idle_chat_after_one_line();
    chat.signal(Signal::SIGHUP);
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(130), "{stderr}");
    let help = common::output_via(env!("CARGO_BIN_EXE_udpchat"), &["--help"], &[]).stdout;
    let help = String::from_utf8_lossy(&help);
    assert!(
        help.contains("130 interrupted by Ctrl-C (SIGINT), SIGTERM or SIGHUP"),
        "{help}"
    );
}

#[test]
#[cfg(target_os = "linux")]
fn a_second_ctrl_c_after_the_first_had_time_quits_at_once_with_the_kernels_counts() {
    use std::io::Write as _;
    use std::process::Stdio;
    // A stdout nobody reads, and full before udpchat starts: the receiver
    // blocks on its first write, so the first Ctrl-C cannot end the chat (it
    // waits for the output).
    let (reader, mut writer) = std::io::pipe().unwrap();
    nix::fcntl::fcntl(&reader, nix::fcntl::FcntlArg::F_SETPIPE_SZ(4096)).unwrap();
    let capacity = nix::fcntl::fcntl(&reader, nix::fcntl::FcntlArg::F_GETPIPE_SZ).unwrap();
    writer
        .write_all(&vec![b'.'; usize::try_from(capacity).unwrap()])
        .unwrap();
    let peer = loopback_socket();
    // A small receive buffer, so that the kernel drops what the blocked
    // receiver cannot take.
    let chat = Udpchat::with_peer_adjusted(&peer, &["-vv", "--recv-buffer", "4K"], |command| {
        command.stdout(Stdio::from(writer));
    });
    let to = chat.bound_addr();
    let mut chat = chat;
    let line = |i: usize| format!("line {i:04} {}", "x".repeat(90));
    for i in 0..400 {
        peer.send_to(line(i).as_bytes(), to).unwrap();
    }
    // The receiver has a line to show: it is (or will be, when it writes
    // it) blocked.
    chat.stderr_line_containing(": shown");
    // Now nothing takes the datagrams: the kernel queues a few and drops
    // the rest, and counts them, for no datagram carries its count to
    // udpchat any more.
    const MORE: usize = 2000;
    for i in 400..400 + MORE {
        peer.send_to(line(i).as_bytes(), to).unwrap();
    }
    chat.signal(Signal::SIGINT);
    // A second Ctrl-C within the burst is the same one, and cannot quit.
    chat.signal(Signal::SIGINT);
    assert!(chat.is_running());
    // The second Ctrl-C must come after the first had time to act: that
    // time is the behaviour under test, not a wait for something to happen.
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert!(
        chat.is_running(),
        "the first Ctrl-C could not end the chat: stdout is full"
    );
    let kernel = kernel_drops(to.port()).expect("udpchat's socket in /proc/net/udp");
    chat.signal(Signal::SIGINT);
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(130), "{stderr}");
    let line = stderr
        .lines()
        .find(|line| line.starts_with("udpchat: quitting at once: "))
        .unwrap_or_else(|| panic!("no counts:\n{stderr}"));
    eprintln!("{line}");
    assert!(line.contains("0 lines sent, "), "{line}");
    let told = number_before(line, " dropped by the kernel");
    // 4 KiB holds a few of the 2,000 datagrams sent while nothing read.
    assert!(kernel > MORE as u64 / 2, "the kernel dropped only {kernel}");
    assert_eq!(
        told, kernel,
        "told {told}, the kernel's count is {kernel}: {line}"
    );
    // Those in the pipe's way, and the ones the receiver took and holds.
    let never_shown = number_before(line, " received line");
    assert!(never_shown > 0 && line.ends_with(" never shown"), "{line}");
    drop(reader);
}

/// The number that ends just before `what` in `line`.
#[cfg(target_os = "linux")]
fn number_before(line: &str, what: &str) -> u64 {
    let before = &line[..line.find(what).unwrap_or_else(|| panic!("no {what:?} in {line}"))];
    let digits = before.rsplit(|c: char| !c.is_ascii_digit()).next().unwrap();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number before {what:?} in {line}"))
}

/// The kernel's count of datagrams dropped for the UDP socket bound to
/// 127.0.0.1:`port`, from `/proc/net/udp`'s `drops` column.
#[cfg(target_os = "linux")]
fn kernel_drops(port: u16) -> Option<u64> {
    let local = format!("0100007F:{port:04X}");
    let table = std::fs::read_to_string("/proc/net/udp").unwrap();
    table.lines().skip(1).find_map(|line| {
        let columns: Vec<&str> = line.split_whitespace().collect();
        (columns.get(1) == Some(&local.as_str())).then(|| columns[12].parse().unwrap())
    })
}

#[test]
#[cfg(unix)] // a shell that ignores SIGINT, then SIGINT: Unix's alone
fn ctrl_c_while_udpchat_starts_quits_even_when_the_shell_ignored_it() {
    // A shell running a job in the background sets SIGINT to be ignored,
    // and the job inherits that; udpchat takes the signal before it does
    // anything that takes time, here deriving a key from a passphrase.
    let mut chat = Udpchat::start_with(&["-b", "127.0.0.1:0", "127.0.0.1:9"], |command| {
        let program = command.get_program().to_owned();
        let args: Vec<_> = command.get_args().map(ToOwned::to_owned).collect();
        *command = std::process::Command::new("sh");
        command
            .args(["-c", "trap '' INT; exec \"$@\"", "sh"])
            .arg(program)
            .args(args)
            .env("UDPCHAT_SECRET", "correct horse battery staple")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
    });
    chat.stderr_line_containing("deriving the key from the passphrase");
    chat.signal(Signal::SIGINT);
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(130), "{stderr}");
}
