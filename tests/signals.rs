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
