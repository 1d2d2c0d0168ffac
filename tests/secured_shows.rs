//! Whether a chat is secured shows: in the prompt at a terminal, in the first lines at -v, and to a chat without the secret; nothing is added to the wire.

#![cfg(feature = "cli")]

mod common;

use common::{SecretFile, Udpchat, loopback_socket};

#[test]
fn the_first_lines_at_v_say_whether_a_chat_is_secured() {
    let peer = loopback_socket();
    let mut plain = Udpchat::with_peer(&peer, &[]);
    plain.close_stdin();
    let (code, stderr) = plain.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    let chatting = stderr
        .lines()
        .find(|line| line.contains("chatting with"))
        .unwrap();
    assert!(
        chatting.ends_with(", not secured: lines go as plain text"),
        "{stderr}"
    );

    let secret = SecretFile::secret();
    let mut secured = Udpchat::with_peer(&peer, &["--secret-file", secret.path()]);
    secured.close_stdin();
    let (code, stderr) = secured.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    let chatting = stderr
        .lines()
        .find(|line| line.contains("chatting with"))
        .unwrap();
    assert!(
        chatting.ends_with(", secured: lines are sealed with the secret"),
        "{stderr}"
    );
}

/// The prompt at a terminal, with a line editor and without one (TERM=dumb).
#[cfg(unix)]
#[test]
fn the_prompt_says_a_chat_is_secured_and_a_plain_one_says_nothing() {
    use common::{Tmux, recv};
    let secret = SecretFile::secret();
    for term in ["xterm", "dumb"] {
        for secured in [true, false] {
            let peer = loopback_socket();
            let to = peer.local_addr().unwrap().to_string();
            let mut args = vec!["-b", "127.0.0.1:0", &to];
            if secured {
                args.extend_from_slice(&["--secret-file", secret.path()]);
            }
            let Some(tmux) = Tmux::start(&args, &[("TERM", term)]) else {
                return;
            };
            let prompt = if secured {
                format!("to {to} (secured)> ")
            } else {
                format!("to {to}> ")
            };
            tmux.wait_for("the prompt", |screen| {
                screen.lines().any(|row| row.trim_end() == prompt.trim_end())
            });
            // The prompt is the only change: a plain chat's line is still the
            // line's bytes alone.
            tmux.type_text("hello");
            tmux.press(&["Enter"]);
            let datagram = recv(&peer).0;
            assert_eq!(datagram == b"hello", !secured, "TERM={term}");
            // Ctrl-D once the editor is back (between two lines it would be
            // the terminal's, and lost).
            tmux.wait_for("an empty prompt", |screen| {
                screen.lines().map(str::trim_end).rfind(|row| !row.is_empty()) == Some(prompt.trim_end())
            });
            tmux.press(&["C-d"]);
            assert_eq!(tmux.exit_status().0, 0, "TERM={term}");
        }
    }
}

/// A udpchat without a secret, sent lines sealed by one that has a secret,
/// shows them as noise (it cannot tell them from text) and says why, once,
/// with the first.
#[test]
fn a_plain_chat_receiving_sealed_lines_says_once_that_its_peer_uses_a_secret() {
    let mut plain = Udpchat::start(&["-b", "127.0.0.1:0", "127.0.0.1:9"]);
    let plain_at = plain.bound_addr();
    let plain_addr = plain_at.to_string();
    let secret = SecretFile::secret();
    let mut secured = Udpchat::start(&["--secret-file", secret.path(), "-b", "127.0.0.1:0", &plain_addr]);
    secured.send("one\n");
    let hint = plain.stderr_line_containing("looks like a secured udpchat");
    assert!(
        hint.contains("127.0.0.1:") && hint.contains("use the same secret (--secret-file or UDPCHAT_SECRET)"),
        "{hint}"
    );
    secured.send("two\n");
    secured.close_stdin();
    assert_eq!(secured.exit_code().0, Some(0));
    // A plain line after them marks that they have all been shown.
    let other = loopback_socket();
    other.send_to(b"marker", plain_at).unwrap();
    while plain.line() != b"marker" {}
    plain.close_stdin();
    let (code, stderr) = plain.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stderr.matches("looks like a secured udpchat").count(),
        1,
        "{stderr}"
    );
}

/// Plain text, even from a peer that also sends sealed lines, brings no hint.
#[test]
fn plain_text_brings_no_hint_of_a_secret() {
    let peer = loopback_socket();
    let mut plain = Udpchat::with_peer(&peer, &[]);
    let to = plain.bound_addr();
    let long = "x".repeat(200);
    for line in ["hello", &long, "\u{1}short"] {
        peer.send_to(line.as_bytes(), to).unwrap();
        assert_eq!(plain.text_line(), line);
    }
    plain.close_stdin();
    let (code, stderr) = plain.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("secured udpchat"), "{stderr}");
}
