//! A person chats at a terminal: line editing, messages above the input line, safe display, clean exits.
//!
//! Each test drives the real binary through a pseudo-terminal in a private
//! tmux server; it is skipped, saying so, where tmux is not installed.

// Unix only: a pseudo-terminal driven by tmux, which Windows has not (its
// console editor is rustyline's; src/terminal.rs's unit tests run there too).
#![cfg(all(feature = "cli", unix))]

mod common;

use std::time::{Duration, Instant};

use common::{Tmux, loopback_socket, recv};

/// udpchat at a terminal chatting with a loopback socket, prompt on screen.
fn chat_at_a_terminal(extra: &[&str], env: &[(&str, &str)]) -> Option<(Tmux, std::net::UdpSocket, String)> {
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let mut args = vec!["-b", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    args.push(&peer_addr);
    let tmux = Tmux::start(&args, env)?;
    let prompt = format!("to {peer_addr}> ");
    tmux.wait_for("prompt", |screen| screen.contains(prompt.trim_end()));
    Some((tmux, peer, prompt))
}

/// The screen's lines without trailing blanks, blank rows dropped.
fn rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .map(str::trim_end)
        .filter(|row| !row.is_empty())
        .collect()
}

#[test]
fn a_message_arriving_while_typing_appears_above_the_intact_input_line() {
    let Some((tmux, peer, prompt)) = chat_at_a_terminal(&[], &[]) else {
        return;
    };
    let to = tmux.bound_addr();
    tmux.type_text("hello wrld");
    tmux.wait_for("half-typed line", |screen| screen.contains("hello wrld"));
    // Move the cursor back into the word, to check it stays there too.
    tmux.press(&["Left", "Left", "Left"]);
    let column = prompt.len() + "hello w".len();
    tmux.wait_with(
        "cursor moved back",
        || tmux.cursor().0.to_string(),
        |x| x == column.to_string(),
    );

    peer.send_to(b"incoming message", to).unwrap();
    let expected = ["incoming message".to_owned(), format!("{prompt}hello wrld")];
    tmux.wait_for("received message above the input line", |screen| {
        rows(screen) == expected
    });
    assert_eq!(tmux.cursor(), (column, 1), "the cursor moved");

    tmux.type_text("o");
    tmux.press(&["Enter"]);
    assert_eq!(recv(&peer).0, b"hello world");
}

#[test]
fn ctrl_d_on_an_empty_line_ends_the_chat_with_status_0_and_the_terminal_as_it_was() {
    let Some((tmux, _peer, _)) = chat_at_a_terminal(&[], &[]) else {
        return;
    };
    tmux.press(&["C-d"]);
    assert_eq!(tmux.exit_status(), (0, true), "(status, terminal mode kept)");
}

#[test]
fn ctrl_c_in_the_editor_exits_130_with_the_terminal_as_it_was() {
    let Some((tmux, peer, _)) = chat_at_a_terminal(&[], &[]) else {
        return;
    };
    tmux.type_text("never sent");
    tmux.wait_for("half-typed line", |screen| screen.contains("never sent"));
    tmux.press(&["C-c"]);
    assert_eq!(tmux.exit_status(), (130, true), "(status, terminal mode kept)");
    peer.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    assert!(
        peer.recv_from(&mut [0; 64]).is_err(),
        "the half-typed line was sent"
    );
}

#[test]
fn sigterm_while_the_editor_holds_the_terminal_leaves_it_as_it_was() {
    let Some((tmux, _peer, _)) = chat_at_a_terminal(&[], &[]) else {
        return;
    };
    tmux.type_text("half typed");
    tmux.wait_for("half-typed line", |screen| screen.contains("half typed"));
    nix::sys::signal::kill(tmux.pid(), nix::sys::signal::Signal::SIGTERM).unwrap();
    assert_eq!(tmux.exit_status(), (130, true), "(status, terminal mode kept)");
}

#[test]
fn ctrl_z_then_fg_brings_back_the_editor_with_the_half_typed_line() {
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let Some(tmux) = Tmux::start_in_shell(&["-b", "127.0.0.1:0", &peer_addr], &[]) else {
        return;
    };
    let prompt = format!("to {peer_addr}> ");
    let half_line = format!("{prompt}half a");
    tmux.wait_for("prompt", |screen| screen.contains(prompt.trim_end()));
    tmux.type_text("half a ");
    tmux.wait_for("half-typed line", |screen| screen.contains(&half_line));

    tmux.press(&["C-z"]);
    tmux.wait_for("the shell saying udpchat stopped", |screen| {
        screen.contains("Stopped") && screen.trim_end().ends_with('$')
    });
    tmux.type_text("fg");
    tmux.press(&["Enter"]);
    // The editor draws its line again below the shell's `fg`, in raw mode.
    tmux.wait_for("the half-typed line drawn again", |screen| {
        let rows = rows(screen);
        let fg = rows.iter().position(|row| *row == "$ fg");
        fg.is_some_and(|fg| rows[fg..].contains(&half_line.as_str()))
    });
    assert!(tmux.terminal_is_raw(), "the terminal is not in raw mode after fg");

    tmux.type_text("line");
    tmux.press(&["Enter"]);
    assert_eq!(recv(&peer).0, b"half a line");
    tmux.press(&["C-d"]);
    assert_eq!(
        tmux.shell_exit_status(),
        (0, true),
        "(status, terminal mode kept)"
    );
}

#[test]
fn ctrl_z_after_ctrl_d_still_stops_udpchat_while_it_lingers() {
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let args = ["--linger", "60s", "-b", "127.0.0.1:0", &peer_addr];
    let Some(tmux) = Tmux::start_in_shell(&args, &[]) else {
        return;
    };
    tmux.wait_for("prompt", |screen| screen.contains(&format!("to {peer_addr}>")));
    // The editor is gone and the terminal in its normal mode: Ctrl-Z is the
    // terminal's, and must stop udpchat as it stops any program.
    tmux.press(&["C-d"]);
    tmux.press(&["C-z"]);
    tmux.wait_for("the shell saying udpchat stopped", |screen| {
        screen.contains("Stopped") && screen.trim_end().ends_with('$')
    });
}

#[test]
fn typed_lines_go_to_the_history_for_editing_again() {
    let Some((tmux, peer, _)) = chat_at_a_terminal(&[], &[]) else {
        return;
    };
    tmux.type_text("first line");
    tmux.press(&["Enter"]);
    assert_eq!(recv(&peer).0, b"first line");
    tmux.press(&["Up"]);
    tmux.type_text(", again");
    tmux.press(&["Enter"]);
    assert_eq!(recv(&peer).0, b"first line, again");
}

#[test]
fn received_escape_sequences_are_shown_not_obeyed_on_a_terminal() {
    let Some((tmux, peer, prompt)) = chat_at_a_terminal(&["--show-sender"], &[]) else {
        return;
    };
    let to = tmux.bound_addr();
    peer.send_to(b"\x1b]2;pwned\x07\x1b[2Jgotcha\rX \xe2\x80\xae", to)
        .unwrap();
    let peer_addr = peer.local_addr().unwrap();
    let expected = [
        format!(r"<{peer_addr}> \x1b]2;pwned\x07\x1b[2Jgotcha\x0dX \u{{202e}}"),
        prompt.trim_end().to_owned(),
    ];
    tmux.wait_for("the message, escaped", |screen| rows(screen) == expected);
    assert_ne!(tmux.title(), "pwned");
}

#[test]
fn raw_lets_escape_sequences_through_to_the_terminal() {
    let Some((tmux, peer, _)) = chat_at_a_terminal(&["--raw"], &[]) else {
        return;
    };
    peer.send_to(b"\x1b]2;pwned\x07visible", tmux.bound_addr())
        .unwrap();
    tmux.wait_for("received message", |screen| screen.contains("visible"));
    assert_eq!(tmux.title(), "pwned");
}

/// The row of the screen, with attributes, that holds `text`.
fn row_with(screen: &str, text: &str) -> String {
    screen
        .lines()
        .find(|row| row.contains(text))
        .unwrap_or_else(|| panic!("no {text:?} in {screen}"))
        .to_owned()
}

#[test]
fn labels_are_coloured_on_a_terminal_unless_no_color_is_set() {
    for (env, coloured) in [(&[][..], true), (&[("NO_COLOR", "1")][..], false)] {
        let Some((tmux, peer, _)) = chat_at_a_terminal(&["--show-sender"], env) else {
            return;
        };
        peer.send_to(b"colour me", tmux.bound_addr()).unwrap();
        tmux.wait_for("received message", |screen| screen.contains("colour me"));
        let row = row_with(&tmux.screen_with_attributes(), "colour me");
        assert_eq!(row.contains('\x1b'), coloured, "{env:?}: {row:?}");
    }
}

#[test]
fn a_burst_of_10000_messages_neither_freezes_typing_nor_loses_a_line() {
    const COUNT: usize = 10_000;
    let Some((tmux, peer, prompt)) = chat_at_a_terminal(&[], &[]) else {
        return;
    };
    let to = tmux.bound_addr();
    let sender = peer.try_clone().unwrap();
    let started = Instant::now();
    // 10,000 lines in about a second: 100 every 10 ms.
    let burst = std::thread::spawn(move || {
        for chunk in 0..COUNT / 100 {
            for i in chunk * 100..(chunk + 1) * 100 {
                sender.send_to(format!("burst {i:05}").as_bytes(), to).unwrap();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });

    // Type while the lines pour in: each key must show within moments.
    tmux.wait_for("burst under way", |screen| screen.contains("burst 0"));
    let typing = Instant::now();
    tmux.type_text("typed during the burst");
    let shown = format!("{prompt}typed during the burst");
    tmux.wait_for("typed text", |screen| {
        screen.lines().any(|row| row.trim_end() == shown)
    });
    let typing_latency = typing.elapsed();
    tmux.press(&["Enter"]);
    assert_eq!(recv(&peer).0, b"typed during the burst");
    // Each Enter is a moment where output could overtake itself.
    for i in 0..20 {
        tmux.type_text(&format!("line {i}"));
        tmux.press(&["Enter"]);
        assert_eq!(recv(&peer).0, format!("line {i}").as_bytes());
    }
    burst.join().unwrap();

    let last = format!("burst {:05}", COUNT - 1);
    let history = tmux.wait_with(
        "last line of the burst",
        || tmux.history(),
        |history| history.contains(&last),
    );
    let all_shown = started.elapsed();
    let lines: Vec<&str> = history
        .lines()
        .filter(|line| line.starts_with("burst "))
        .collect();
    let expected: Vec<String> = (0..COUNT).map(|i| format!("burst {i:05}")).collect();
    let first_wrong = lines.iter().zip(&expected).position(|(got, want)| got != want);
    let near = first_wrong.unwrap_or(0).saturating_sub(3);
    assert_eq!(
        (lines.len(), first_wrong),
        (COUNT, None),
        "(lines shown, first out of place); near it:\n{}",
        lines[near..lines.len().min(near + 6)].join("\n")
    );
    eprintln!("burst of {COUNT}: typed text shown after {typing_latency:?}, all lines after {all_shown:?}");
    assert!(
        typing_latency < Duration::from_secs(2),
        "typing froze for {typing_latency:?}"
    );
}
