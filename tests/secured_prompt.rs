//! Whether a chat is secured shows: in the prompt at a terminal, and in the first lines at -v; nothing is added to the wire.

#![cfg(feature = "cli")]

mod common;

use common::{SecretFile, Udpchat, loopback_socket, recv};

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
    use common::Tmux;
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
            tmux.press(&["C-d"]);
            assert_eq!(tmux.exit_status().0, 0, "TERM={term}");
        }
    }
}
