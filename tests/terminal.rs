//! A person chats at a terminal: line editing, messages above the input line, safe display, clean exits.
//!
//! Each test drives the real binary through a pseudo-terminal in a private
//! tmux server; it is skipped, saying so, where tmux is not installed.

// Unix only: a pseudo-terminal driven by tmux, which Windows has not (its
// console editor is rustyline's; src/bin/udpchat/terminal/'s unit tests run there too).
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

/// Waits until the last row on the screen is an empty prompt: the editor
/// has taken the terminal for the next line.
fn wait_for_an_empty_prompt(tmux: &Tmux, prompt: &str) {
    tmux.wait_for("an empty prompt", |screen| {
        rows(screen).last() == Some(&prompt.trim_end())
    });
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

/// Sends `count` lines `burst 00000`, `burst 00001` ... from `peer` to
/// `to` on a thread, 100 every 10 ms: a pace the test paces, not one that
/// waits for anything (the sleep spaces the load, it synchronises nothing).
fn burst_of_lines(
    peer: &std::net::UdpSocket,
    to: std::net::SocketAddr,
    count: usize,
) -> std::thread::JoinHandle<()> {
    let sender = peer.try_clone().unwrap();
    std::thread::spawn(move || {
        for chunk in 0..count / 100 {
            for i in chunk * 100..(chunk + 1) * 100 {
                sender.send_to(format!("burst {i:05}").as_bytes(), to).unwrap();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    })
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
    // udpchat has exited, and loopback delivers as it sends: a datagram it
    // sent would be queued already.
    peer.set_nonblocking(true).unwrap();
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

/// udpchat run as a job of an interactive shell (with `env`), half a line
/// typed, stopped with Ctrl-Z and brought back with `fg`, once it has drawn
/// the half-typed line again below the shell's `fg`: the pane, the peer, the
/// prompt and the line as shown. `None`, saying why, without tmux or bash.
fn stopped_and_brought_back(env: &[(&str, &str)]) -> Option<(Tmux, std::net::UdpSocket, String, String)> {
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let tmux = Tmux::start_in_shell(&["-b", "127.0.0.1:0", &peer_addr], env)?;
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
    tmux.wait_for("the half-typed line drawn again", |screen| {
        let rows = rows(screen);
        let fg = rows.iter().position(|row| *row == "$ fg");
        fg.is_some_and(|fg| rows[fg..].contains(&half_line.as_str()))
    });
    Some((tmux, peer, prompt, half_line))
}

#[test]
fn ctrl_z_then_fg_brings_back_the_editor_with_the_half_typed_line() {
    let Some((tmux, peer, prompt, _)) = stopped_and_brought_back(&[]) else {
        return;
    };
    assert!(tmux.terminal_is_raw(), "the terminal is not in raw mode after fg");

    tmux.type_text("line");
    tmux.press(&["Enter"]);
    assert_eq!(recv(&peer).0, b"half a line");
    // Between two lines the terminal is in its normal mode, where Ctrl-D
    // is the kernel's end of file, not a key for the editor: wait until the
    // editor has drawn its next prompt, which it does in raw mode.
    wait_for_an_empty_prompt(&tmux, &prompt);
    tmux.press(&["C-d"]);
    assert_eq!(
        tmux.shell_exit_status(),
        (0, true),
        "(status, terminal mode kept)"
    );
}

/// Ctrl-D, then Ctrl-Z while udpchat lingers (with `env`): once the editor
/// is gone the terminal is in its normal mode, and Ctrl-Z is then the
/// terminal's, which must stop udpchat as it stops any program. Pressed
/// before, it would be a key the editor never reads.
fn ctrl_z_after_ctrl_d_stops_the_lingering_chat(env: &[(&str, &str)]) {
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let args = ["--linger", "60s", "-b", "127.0.0.1:0", &peer_addr];
    let Some(tmux) = Tmux::start_in_shell(&args, env) else {
        return;
    };
    tmux.wait_for("prompt", |screen| screen.contains(&format!("to {peer_addr}>")));
    tmux.press(&["C-d"]);
    tmux.wait_with(
        "the terminal back in its normal mode",
        || tmux.terminal_is_raw().to_string(),
        |raw| raw == "false",
    );
    tmux.press(&["C-z"]);
    tmux.wait_for("the shell saying udpchat stopped", |screen| {
        screen.contains("Stopped") && screen.trim_end().ends_with('$')
    });
}

#[test]
fn ctrl_z_after_ctrl_d_still_stops_udpchat_while_it_lingers() {
    ctrl_z_after_ctrl_d_stops_the_lingering_chat(&[]);
}

#[test]
fn typed_lines_go_to_the_history_for_editing_again() {
    let Some((tmux, peer, prompt)) = chat_at_a_terminal(&[], &[]) else {
        return;
    };
    tmux.type_text("first line");
    tmux.press(&["Enter"]);
    assert_eq!(recv(&peer).0, b"first line");
    wait_for_an_empty_prompt(&tmux, &prompt);
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
    let started = Instant::now();
    // 10,000 lines in about a second.
    let burst = burst_of_lines(&peer, to, COUNT);

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
    // Each Enter is a moment where output could overtake itself. Each line
    // is typed once the editor shows its prompt again, as a person would:
    // keys typed in the instant between two lines, before the editor takes
    // the terminal back, are echoed by the terminal itself, where a line
    // printed then may join them on their row.
    for i in 0..20 {
        wait_for_an_empty_prompt(&tmux, &prompt);
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
    // The screen's rows around the first line out of place, and around where
    // that line is, if anywhere.
    let rows_near = |needle: &str| {
        let all: Vec<&str> = history.lines().collect();
        all.iter().position(|row| row.contains(needle)).map_or_else(
            || format!("({needle} is nowhere)"),
            |at| all[at.saturating_sub(4)..all.len().min(at + 4)].join("\n"),
        )
    };
    assert_eq!(
        (lines.len(), first_wrong),
        (COUNT, None),
        "(lines shown, first out of place); rows near it:\n{}\n...and near where it should be:\n{}",
        first_wrong.map_or_else(String::new, |at| rows_near(lines[at])),
        first_wrong.map_or_else(String::new, |at| rows_near(&expected[at])),
    );
    eprintln!("burst of {COUNT}: typed text shown after {typing_latency:?}, all lines after {all_shown:?}");
    assert!(
        typing_latency < Duration::from_secs(2),
        "typing froze for {typing_latency:?}"
    );
}

/// The next `count` datagrams `peer` receives, as text; fewer if
/// [`common::TIMEOUT`] passes before the next one.
fn received(peer: &std::net::UdpSocket, count: usize) -> Vec<String> {
    let mut buf = vec![0; 65_536];
    let mut lines = Vec::new();
    while lines.len() < count {
        match peer.recv(&mut buf) {
            Ok(len) => lines.push(String::from_utf8_lossy(&buf[..len]).into_owned()),
            Err(_) => break,
        }
    }
    lines
}

/// Nothing more arrives at `peer`: a marker line typed last is the next datagram.
fn nothing_more_than(tmux: &Tmux, peer: &std::net::UdpSocket) {
    tmux.type_text("marker");
    tmux.press(&["Enter"]);
    assert_eq!(String::from_utf8(recv(peer).0).unwrap(), "marker");
}

#[test]
fn five_lines_typed_in_one_write_are_five_datagrams_in_order() {
    let Some((tmux, peer, _)) = chat_at_a_terminal(&[], &[]) else {
        return;
    };
    // One send-keys command: tmux writes all five lines to the terminal at once.
    tmux.press(&[
        "one", "Enter", "two", "Enter", "three", "Enter", "four", "Enter", "five", "Enter",
    ]);
    assert_eq!(received(&peer, 5), ["one", "two", "three", "four", "five"]);
    nothing_more_than(&tmux, &peer);
}

#[test]
fn a_thousand_lines_pasted_without_bracketed_paste_are_a_thousand_datagrams_in_order() {
    const COUNT: usize = 1000;
    let Some((tmux, peer, _)) = chat_at_a_terminal(&[], &[]) else {
        return;
    };
    // Room for every datagram, however late this thread gets to read them.
    socket2::SockRef::from(&peer)
        .set_recv_buffer_size(4 << 20)
        .unwrap();
    let lines: Vec<String> = (0..COUNT).map(|i| format!("pasted line {i:04}")).collect();
    tmux.paste(&format!("{}\n", lines.join("\n")), false);
    let got = received(&peer, COUNT);
    let first_wrong = (0..COUNT).find(|&i| got.get(i) != Some(&lines[i]));
    assert_eq!(
        (got.len(), first_wrong),
        (COUNT, None),
        "(datagrams, first one missing or out of place); from there: {:?}",
        &got[first_wrong.unwrap_or(0).min(got.len())..][..got.len().min(5)]
    );
    nothing_more_than(&tmux, &peer);
}

#[test]
fn a_bracketed_paste_of_three_lines_ending_in_a_newline_is_three_datagrams() {
    let Some((tmux, peer, prompt)) = chat_at_a_terminal(&[], &[]) else {
        return;
    };
    tmux.paste("first\nsecond\nthird\n", true);
    // The pasted block waits in the editor for Enter, as typed text does,
    // each of its lines after the prompt, as a typed line is.
    let pasted = ["first", "second", "third"].map(|line| format!("{prompt}{line}"));
    tmux.wait_for("the pasted block in the editor", |screen| {
        rows(screen) == [&pasted[..], &[prompt.trim_end().to_owned()]].concat()
    });
    tmux.press(&["Enter"]);
    assert_eq!(received(&peer, 3), ["first", "second", "third"]);
    // Sent, the lines stay as they were, and no empty row or prompt is
    // left where the paste's last newline had opened one for more.
    let screen = tmux.wait_for("an empty prompt below the lines sent", |screen| {
        rows(screen).last() == Some(&prompt.trim_end())
    });
    assert_eq!(
        screen.lines().map(str::trim_end).collect::<Vec<_>>()[..4],
        [&pasted[..], &[prompt.trim_end().to_owned()]].concat(),
        "screen:\n{screen}"
    );
    nothing_more_than(&tmux, &peer);
}

#[test]
fn lines_typed_ahead_while_udpchat_starts_are_all_sent() {
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let Some(tmux) = Tmux::start_in_shell(&["-b", "127.0.0.1:0", &peer_addr], &[]) else {
        return;
    };
    // The shell reads its command line up to Enter and no further: these
    // wait in the terminal for udpchat, which has not even started yet.
    tmux.press(&["ahead 1", "Enter", "ahead 2", "Enter", "ahead 3", "Enter"]);
    let got = received(&peer, 3);
    assert_eq!(
        got,
        ["ahead 1", "ahead 2", "ahead 3"],
        "screen:\n{}",
        tmux.screen()
    );
    nothing_more_than(&tmux, &peer);
}

/// Peak memory a terminal udpchat may reach under any flood (README, "What stays bounded").
#[cfg(target_os = "linux")]
const PEAK_KIB: u64 = 24 * 1024;

#[cfg(target_os = "linux")]
#[test]
fn a_flood_the_terminal_cannot_keep_up_with_stays_under_24_mib_and_what_is_not_shown_is_counted() {
    let Some((tmux, peer, _)) = chat_at_a_terminal(&[], &[]) else {
        return;
    };
    flood_the_terminal(&tmux, &peer);
    assert!(
        tmux.stderr()
            .contains("received lines not shown: the terminal could not keep up"),
        "{}",
        tmux.stderr()
    );
}

#[cfg(target_os = "linux")]
#[test]
fn at_20_columns_with_long_labels_a_flood_stays_under_24_mib_and_ctrl_c_still_ends_at_once() {
    // Labels (an RFC 3339 time, a sender) wider than the terminal: each row
    // holds a few characters of text, and every line takes several rows.
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let pane = common::Pane {
        size: Some((20, 12)),
        ..common::Pane::default()
    };
    let args = [
        "--timestamps=rfc3339",
        "--show-sender",
        "-b",
        "127.0.0.1:0",
        &peer_addr,
    ];
    let Some(tmux) = Tmux::start_with(&args, &[], &pane) else {
        return;
    };
    let prompt = format!("to {peer_addr}>");
    tmux.wait_for("prompt", |screen| rows(screen).concat().contains(&prompt));
    let flood = flood_the_terminal(&tmux, &peer);
    // Ctrl-C while the flood goes on and the terminal shows its backlog,
    // once the editor takes keys again after the line typed last: until it
    // does, the terminal is in its normal mode, where Ctrl-C is SIGINT to
    // the pane's whole process group, the script that records the status too.
    tmux.wait_with(
        "the editor taking keys",
        || tmux.terminal_is_raw().to_string(),
        |raw| raw == "true",
    );
    let pid = tmux.pid();
    let pressed = Instant::now();
    tmux.press(&["C-c"]);
    let ended = wait_until_gone(pid);
    eprintln!(
        "20 columns: Ctrl-C ended udpchat after {ended:?}",
        ended = ended - pressed
    );
    assert_eq!(tmux.exit_status(), (130, true), "(status, terminal mode kept)");
    flood.stop();
}

#[test]
fn narrower_than_its_labels_the_terminal_shows_each_line_whole_its_rows_after_the_first_marked() {
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let pane = common::Pane {
        size: Some((20, 12)),
        ..common::Pane::default()
    };
    let args = [
        "--timestamps=rfc3339",
        "--show-sender",
        "-b",
        "127.0.0.1:0",
        &peer_addr,
    ];
    let Some(tmux) = Tmux::start_with(&args, &[], &pane) else {
        return;
    };
    let prompt = format!("to {peer_addr}>");
    tmux.wait_for("prompt", |screen| rows(screen).concat().contains(&prompt));
    let to = tmux.bound_addr();
    let sent = ["one", "a line longer than the terminal is wide", "three"];
    for line in sent {
        peer.send_to(line.as_bytes(), to).unwrap();
    }
    let screen = tmux.wait_with(
        "the last line",
        || tmux.history(),
        |history| rows(history).concat().contains("three"),
    );
    // Each received line starts a row with its labels (cut like text, as
    // they are wider than a row); every row after its first starts with the
    // mark, and the rows make the line whole again.
    let mut lines: Vec<String> = Vec::new();
    for row in rows(&screen) {
        match row.strip_prefix(CONTINUATION) {
            Some(rest) => lines.last_mut().expect("a line above the mark").push_str(rest),
            None if row.starts_with("20") => lines.push(row.to_owned()),
            None => {}
        }
    }
    let label = format!(" <{}> ", peer_addr);
    assert_eq!(lines.len(), sent.len(), "screen:\n{screen}");
    for (line, text) in lines.iter().zip(sent) {
        let (time, rest) = line.split_at("2026-11-24T10:15:03.120+01:00".len());
        assert!(
            time.bytes().all(|b| b.is_ascii_digit() || b"-:.T+Z".contains(&b)),
            "{line}\nscreen:\n{screen}"
        );
        assert_eq!(rest, format!("{label}{text}"), "screen:\n{screen}");
    }
}

/// A flood of datagrams sent to a chat at a terminal until stopped.
#[cfg(target_os = "linux")]
struct Flood {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[cfg(target_os = "linux")]
impl Flood {
    fn stop(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
    }
}

#[cfg(target_os = "linux")]
impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// When process `pid` has ended (gone, or a zombie its shell has not yet
/// reaped), polled every millisecond for at most [`common::TIMEOUT`].
#[cfg(target_os = "linux")]
fn wait_until_gone(pid: nix::unistd::Pid) -> Instant {
    let deadline = Instant::now() + common::TIMEOUT;
    loop {
        let gone = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit(") ").next().is_some_and(|rest| rest.starts_with('Z'))
        });
        if gone {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "udpchat still running after {:?}",
            common::TIMEOUT
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Floods the chat in `tmux` from `peer` with 1,400-byte, then 65,000-byte
/// datagrams, each while its terminal stops reading and then reads again;
/// checks that peak memory stays under [`PEAK_KIB`] and that a line typed
/// while the backlog drains goes out. Returns the flood, still going.
#[cfg(target_os = "linux")]
fn flood_the_terminal(tmux: &Tmux, peer: &std::net::UdpSocket) -> Flood {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let to = tmux.bound_addr();
    let at_start = tmux.memory().peak_kib;
    let size = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = std::thread::spawn({
        let (sender, size, stop) = (peer.try_clone().unwrap(), size.clone(), stop.clone());
        move || {
            let datagram = vec![b'f'; 65_000];
            while !stop.load(Ordering::Relaxed) {
                let _ = sender.send_to(&datagram[..size.load(Ordering::Relaxed)], to);
            }
        }
    });
    let flood = Flood {
        stop,
        thread: Some(thread),
    };
    // Either says that udpchat is behind: its own count of lines it had no
    // room for, or the kernel's of datagrams it had no room for.
    let behind = |stderr: &str| {
        stderr.matches("received lines not shown").count() + stderr.matches("kernel dropped").count()
    };
    let columns = tmux.size().0;
    for datagram_size in [1400, 65_000] {
        // The terminal stops reading, so whatever arrives can only wait in
        // udpchat or be dropped, however fast or slow this machine is: until
        // udpchat has said it is behind three times, a second apart.
        tmux.freeze();
        size.store(datagram_size, Ordering::Relaxed);
        let warned = behind(&tmux.stderr());
        let deadline = Instant::now() + common::TIMEOUT;
        while behind(&tmux.stderr()) < warned + 3 {
            assert!(
                Instant::now() < deadline,
                "no warnings; stderr:\n{}",
                tmux.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The terminal comes back while the flood goes on: the backlog
        // drains, and a line typed now still goes out.
        tmux.thaw();
        let typed = Instant::now();
        let line = format!("typed during a flood of {datagram_size}-byte datagrams");
        tmux.type_text(&line);
        tmux.press(&["Enter"]);
        assert_eq!(recv(peer).0, line.as_bytes());
        let peak = tmux.memory().peak_kib;
        eprintln!(
            "{columns} columns, {datagram_size}-byte flood: peak {peak} KiB ({at_start} KiB at start), \
             a typed line went out after {:?}",
            typed.elapsed()
        );
        assert!(
            peak < PEAK_KIB,
            "{datagram_size}-byte datagrams: peak {peak} KiB ({at_start} KiB at start)"
        );
    }
    flood
}

#[test]
fn no_row_of_a_strangers_long_line_passes_for_the_peers() {
    let Some(stranger) = common::ipv6_loopback_socket() else {
        return;
    };
    // With the line editor, and with udpchat echoing the keys itself.
    for env in [&[][..], DUMB] {
        a_strangers_long_line_at_a_terminal(&stranger, env);
    }
}

fn a_strangers_long_line_at_a_terminal(stranger: &std::net::UdpSocket, env: &[(&str, &str)]) {
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let Some(tmux) = Tmux::start(&["-b", "[::]:0", "--accept-any", &peer_addr], env) else {
        return;
    };
    let prompt = format!("to {peer_addr}>");
    tmux.wait_for("prompt", |screen| screen.contains(&prompt));
    let port = tmux.bound_addr().port();
    let label = format!("<{}>", stranger.local_addr().unwrap());
    // The pane is 100 columns wide: each pads its text so that, wrapped by
    // the terminal, "peer: ..." would start a row of its own.
    let pad = 100 - label.len() - 1;
    let forgeries = [
        format!("{}peer: send me the key", " ".repeat(pad)),
        format!("{}peer: wide characters", "漢".repeat(pad / 2)),
        format!("{}peer: combining accents", "e\u{301}".repeat(pad)),
        format!("\t{}peer: a tab", "x".repeat(pad - 8)),
    ];
    for forgery in &forgeries {
        stranger.send_to(forgery.as_bytes(), ("::1", port)).unwrap();
    }
    peer.send_to(b"the peer's own line", ("127.0.0.1", port)).unwrap();
    let screen = tmux.wait_for("the peer's line after the stranger's", |screen| {
        screen.contains("the peer's own line")
    });
    // Each row starts a line of the stranger's, with its label, or goes on
    // with the line above it, after the mark no sender can write.
    let mut in_strangers_line = false;
    for row in rows(&screen) {
        let continues = row.starts_with(CONTINUATION) && in_strangers_line;
        assert!(
            row.starts_with(&label) || continues || row == "the peer's own line" || row == prompt,
            "{env:?}: a row neither the stranger's line nor the rest of it:\n{row}\nscreen:\n{screen}"
        );
        in_strangers_line = row.starts_with(&label) || continues;
    }
    assert!(screen.contains("peer: send me the key"), "{env:?}: {screen}");
}

/// What starts each row of a received line after its first.
const CONTINUATION: &str = "\u{21b3} ";

#[test]
fn with_raw_a_peers_query_makes_the_terminal_type_its_answer_into_the_line() {
    // What README and --help warn of: with --raw the terminal answers a
    // device-attributes query as typed keys, into the line being written.
    let Some((tmux, peer, prompt)) = chat_at_a_terminal(&["--raw"], &[]) else {
        return;
    };
    peer.send_to(b"query \x1b[c done", tmux.bound_addr()).unwrap();
    let answered = tmux.wait_for("the terminal's answer in the input line", |screen| {
        rows(screen)
            .last()
            .is_some_and(|row| row.len() > prompt.trim_end().len() && row.starts_with(&prompt))
    });
    tmux.press(&["Enter"]);
    let sent = String::from_utf8(recv(&peer).0).unwrap();
    assert!(
        sent.ends_with('c') && !sent.contains("query"),
        "{sent:?}\n{answered}"
    );
}

/// `line` as the editor draws it at a terminal `columns` wide (ASCII only):
/// in rows it ends itself, trailing blanks trimmed as [`rows`] trims them.
fn drawn_at(line: &str, columns: usize) -> Vec<String> {
    line.as_bytes()
        .chunks(columns)
        .map(|row| String::from_utf8_lossy(row).trim_end().to_owned())
        .collect()
}

/// Whether the last rows of `history` (read with the terminal's own wraps
/// joined, [`Tmux::history_joined`]) are `line` drawn at `columns`: the
/// editor has drawn it again since the terminal took that width.
fn ends_with_drawn(history: &str, line: &str, columns: usize) -> bool {
    let drawn = drawn_at(line, columns);
    let rows = rows(history);
    rows.len() >= drawn.len() && rows[rows.len() - drawn.len()..] == drawn[..]
}

/// How many rows of `history` start with the prompt: copies of the input line.
fn copies_of_the_line(history: &str, prompt: &str) -> usize {
    rows(history)
        .iter()
        .filter(|row| row.starts_with(prompt.trim_end()))
        .count()
}

/// The long line typed into a chat at a terminal, for the resize tests: it
/// takes three rows at 40 columns, one at 100.
const HALF_TYPED: &str = "a half-typed line long enough to take two rows at 40 columns";

/// A chat at a terminal with [`HALF_TYPED`] typed and drawn; returns it with
/// its peer and prompt.
fn chat_with_a_half_typed_line() -> Option<(Tmux, std::net::UdpSocket, String)> {
    let (tmux, peer, prompt) = chat_at_a_terminal(&[], &[])?;
    tmux.type_text(HALF_TYPED);
    let line = format!("{prompt}{HALF_TYPED}");
    tmux.wait_with(
        "half-typed line",
        || tmux.history_joined(),
        |history| ends_with_drawn(history, &line, 100),
    );
    Some((tmux, peer, prompt))
}

/// Ends a resize test: back at 100 columns and the line drawn there, the
/// screen and scrollback hold `{label} 0` to `{label} {count - 1}` in order,
/// and Enter still sends [`HALF_TYPED`] whole.
fn assert_all_received_and_the_line_sent(
    tmux: &Tmux,
    peer: &std::net::UdpSocket,
    prompt: &str,
    label: &str,
    count: usize,
) {
    tmux.resize("100", "30");
    let line = format!("{prompt}{HALF_TYPED}");
    let history = tmux.wait_with(
        "the line drawn at the last width",
        || tmux.history_joined(),
        |history| ends_with_drawn(history, &line, 100),
    );
    let received: Vec<&str> = rows(&history)
        .into_iter()
        .filter(|row| row.starts_with(label))
        .collect();
    let expected: Vec<String> = (0..count).map(|i| format!("{label} {i}")).collect();
    assert_eq!(received, expected, "screen and scrollback:\n{history}");
    tmux.press(&["Enter"]);
    assert_eq!(recv(peer).0, HALF_TYPED.as_bytes());
}

#[test]
fn received_lines_survive_resizes_of_the_window() {
    const RESIZES: usize = 7;
    let Some((tmux, peer, prompt)) = chat_with_a_half_typed_line() else {
        return;
    };
    let to = tmux.bound_addr();
    let line = format!("{prompt}{HALF_TYPED}");
    for i in 0..RESIZES {
        let (columns, height) = if i % 2 == 0 { (40, "20") } else { (100, "30") };
        let copies_before = copies_of_the_line(&tmux.history_joined(), &prompt);
        tmux.resize(&columns.to_string(), height);
        let history = tmux.wait_with(
            "the line drawn again at the new width",
            || tmux.history_joined(),
            |history| ends_with_drawn(history, &line, columns),
        );
        if columns == 100 {
            // The line's rows stay apart when the terminal widens, so the
            // editor clears them all. (Narrowed, tmux wraps the row that no
            // longer fits; what it moved up stays: see README.)
            assert_eq!(
                copies_of_the_line(&history, &prompt),
                copies_before,
                "widening the window left a copy of the typed line:\n{history}"
            );
        }
        let received = format!("during resize {i}");
        peer.send_to(received.as_bytes(), to).unwrap();
        tmux.wait_with(
            "the received line",
            || tmux.history(),
            |history| history.contains(&received),
        );
    }
    assert_all_received_and_the_line_sent(&tmux, &peer, &prompt, "during resize", RESIZES);
}

#[test]
fn received_lines_survive_a_storm_of_resizes_as_they_arrive() {
    // Each line arrives while the window changes width, with no wait for the
    // editor to redraw: tmux rewraps its screen at once but tells the program
    // of the new size later, so the editor clears and prints at a width the
    // terminal no longer has.
    const LINES: usize = 40;
    let Some((tmux, peer, prompt)) = chat_with_a_half_typed_line() else {
        return;
    };
    let to = tmux.bound_addr();
    for i in 0..LINES {
        let (columns, height) = if i % 2 == 0 { ("40", "20") } else { ("100", "30") };
        tmux.resize(columns, height);
        peer.send_to(format!("during storm {i}").as_bytes(), to).unwrap();
    }
    let last = format!("during storm {}", LINES - 1);
    tmux.wait_with("the last line", || tmux.history(), |h| h.contains(&last));
    assert_all_received_and_the_line_sent(&tmux, &peer, &prompt, "during storm", LINES);
}

/// A chat at a terminal `columns` wide, 12 rows, that has shown
/// `received one`; returns it with its peer and prompt.
fn chat_at_a_narrow_terminal(columns: usize) -> Option<(Tmux, std::net::UdpSocket, String)> {
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let pane = common::Pane {
        size: Some((columns, 12)),
        ..common::Pane::default()
    };
    let tmux = Tmux::start_with(&["-b", "127.0.0.1:0", &peer_addr], &[], &pane)?;
    let prompt = format!("to {peer_addr}> ");
    tmux.wait_for("prompt", |screen| screen.contains(prompt.trim_end()));
    peer.send_to(b"received one", tmux.bound_addr()).unwrap();
    tmux.wait_for("the first line", |screen| screen.contains("received one"));
    Some((tmux, peer, prompt))
}

#[test]
fn a_received_line_keeps_the_rows_above_when_the_text_before_the_cursor_fills_a_row() {
    // Text before the cursor that ends at the right margin, then a newline
    // (a pasted block): the editor once counted a row more than it drew,
    // and cleared the line above.
    let Some((tmux, peer, prompt)) = chat_at_a_narrow_terminal(40) else {
        return;
    };
    let fill = "A".repeat(40 - prompt.len());
    tmux.paste(&format!("{fill}B\nabc"), true);
    tmux.wait_for("the pasted text", |screen| screen.contains("abc"));
    // Back over `abc` and the newline, and delete the B: `fill` ends the row.
    tmux.press(&["Left", "Left", "Left", "Left", "BSpace"]);
    let before_the_cursor = format!("{prompt}{fill}");
    // The pasted line after the newline is drawn after the prompt too.
    let after_the_newline = format!("{prompt}abc");
    tmux.wait_for("the B deleted", |screen| {
        rows(screen) == ["received one", &before_the_cursor, &after_the_newline]
    });
    peer.send_to(b"received two", tmux.bound_addr()).unwrap();
    let screen = tmux.wait_for("the second line", |screen| screen.contains("received two"));
    assert_eq!(
        rows(&screen),
        [
            "received one",
            "received two",
            &before_the_cursor,
            &after_the_newline
        ],
        "screen:\n{screen}"
    );
}

#[test]
fn a_tab_that_starts_a_row_is_cleared_with_its_line() {
    // A tab where the row is nearly full goes to the next row, and from its
    // start to the first tab stop: the editor once measured it from the
    // column it came from, one row short, and left a copy of the line.
    const COLUMNS: usize = 42;
    let Some((tmux, peer, prompt)) = chat_at_a_narrow_terminal(COLUMNS) else {
        return;
    };
    let first = "1".repeat(COLUMNS - 1 - prompt.len());
    let second = "2".repeat(COLUMNS - 8);
    tmux.type_text(&first);
    tmux.press(&["C-v", "Tab"]);
    tmux.type_text(&format!("{second}X"));
    tmux.wait_for("the typed line", |screen| screen.contains('X'));
    peer.send_to(b"received two", tmux.bound_addr()).unwrap();
    let screen = tmux.wait_for("the second line", |screen| screen.contains("received two"));
    assert_eq!(
        rows(&screen),
        [
            "received one",
            "received two",
            &format!("{prompt}{first}"),
            &format!("        {second}"),
            "X"
        ],
        "screen:\n{screen}"
    );
}

/// Where no line editor can run: rustyline gives up on `TERM=dumb`.
const DUMB: &[(&str, &str)] = &[("TERM", "dumb")];

#[test]
fn at_a_dumb_terminal_a_line_arriving_while_typing_starts_a_row_of_its_own() {
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let Some(tmux) = Tmux::start(&["-b", "127.0.0.1:0", &peer_addr], DUMB) else {
        return;
    };
    let to = tmux.bound_addr();
    let prompt = format!("to {peer_addr}> ");
    tmux.type_text("typed in dumb mode");
    tmux.wait_for("half-typed line", |screen| screen.contains("typed in dumb mode"));

    peer.send_to(b"incoming", to).unwrap();
    let screen = tmux.wait_for("received line", |screen| screen.contains("incoming"));
    let expected = ["incoming".to_owned(), format!("{prompt}typed in dumb mode")];
    assert_eq!(rows(&screen), expected, "screen:\n{screen}");
    let column = prompt.len() + "typed in dumb mode".len();
    assert_eq!(
        tmux.cursor(),
        (column, 1),
        "the cursor is not after the typed text"
    );

    tmux.type_text(" and more");
    tmux.press(&["Enter"]);
    assert_eq!(recv(&peer).0, b"typed in dumb mode and more");
    let expected = [
        "incoming".to_owned(),
        format!("{prompt}typed in dumb mode and more"),
        prompt.trim_end().to_owned(),
    ];
    tmux.wait_for("the sent line, and a new prompt", |screen| {
        rows(screen) == expected
    });
}

#[test]
fn at_a_dumb_terminal_erase_word_erase_and_kill_edit_the_line_as_the_terminal_would() {
    let Some((tmux, peer, prompt)) = chat_at_a_terminal(&[], DUMB) else {
        return;
    };
    // Backspace, Ctrl-W, and a wide character rubbed out whole.
    tmux.type_text("hellp");
    tmux.press(&["BSpace"]);
    tmux.type_text("o wrold 漢");
    tmux.press(&["BSpace", "C-w"]);
    tmux.type_text("world");
    let shown = format!("{prompt}hello world");
    tmux.wait_for("the edited line", |screen| {
        rows(screen).last() == Some(&shown.as_str())
    });
    assert_eq!(tmux.cursor(), (shown.len(), 0));
    tmux.press(&["Enter"]);
    assert_eq!(recv(&peer).0, b"hello world");

    tmux.type_text("never sent");
    tmux.press(&["C-u"]);
    tmux.type_text("kept");
    tmux.press(&["Enter"]);
    assert_eq!(recv(&peer).0, b"kept");
    let expected = [shown, format!("{prompt}kept"), prompt.trim_end().to_owned()];
    tmux.wait_for("each line as sent", |screen| rows(screen) == expected);
}

#[test]
fn at_a_dumb_terminal_ctrl_d_and_ctrl_c_end_the_chat_with_the_terminal_as_it_was() {
    // From a shell with job control, as a person runs it: the terminal's
    // Ctrl-C signals udpchat's process group only, not the shell.
    for (key, status) in [("C-d", 0), ("C-c", 130)] {
        let peer = loopback_socket();
        let peer_addr = peer.local_addr().unwrap().to_string();
        let Some(tmux) = Tmux::start_in_shell(&["-b", "127.0.0.1:0", &peer_addr], DUMB) else {
            return;
        };
        let prompt = format!("to {peer_addr}> ");
        tmux.wait_for("prompt", |screen| screen.contains(prompt.trim_end()));
        if key == "C-c" {
            tmux.type_text("never sent");
            tmux.wait_for("half-typed line", |screen| screen.contains("never sent"));
        }
        tmux.press(&[key]);
        assert_eq!(
            tmux.shell_exit_status(),
            (status, true),
            "{key}: (status, terminal mode kept)"
        );
        // Ctrl-D takes the prompt away; Ctrl-C leaves the unsent line, the
        // shell's prompt on a row below it.
        let screen = tmux.screen();
        let unsent = format!("{prompt}never sent");
        assert_eq!(
            (
                screen.contains(prompt.trim_end()),
                rows(&screen).contains(&unsent.as_str())
            ),
            (key == "C-c", key == "C-c"),
            "{key}:\n{screen}"
        );
        // udpchat has exited, and loopback delivers as it sends.
        peer.set_nonblocking(true).unwrap();
        assert!(peer.recv_from(&mut [0; 64]).is_err(), "{key}: a line was sent");
    }
}

#[test]
fn at_a_dumb_terminal_ctrl_z_then_fg_brings_back_the_half_typed_line() {
    let Some((tmux, peer, _, half_line)) = stopped_and_brought_back(DUMB) else {
        return;
    };
    // udpchat has the keys again: not echoed twice, nor held until Enter.
    assert!(
        tmux.terminal_is_raw(),
        "udpchat did not take the keys again after fg"
    );
    let to = tmux.bound_addr();
    peer.send_to(b"after fg", to).unwrap();
    tmux.wait_for("the received line above the half-typed one", |screen| {
        rows(screen).ends_with(&["after fg", &half_line])
    });
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
fn at_a_dumb_terminal_ctrl_z_after_ctrl_d_still_stops_udpchat_while_it_lingers() {
    ctrl_z_after_ctrl_d_stops_the_lingering_chat(DUMB);
}

#[test]
fn at_a_dumb_terminal_lines_typed_ahead_are_sent_and_a_half_typed_one_kept() {
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let Some(tmux) = Tmux::start_in_shell(&["-b", "127.0.0.1:0", &peer_addr], DUMB) else {
        return;
    };
    tmux.press(&["ahead 1", "Enter", "ahead 2", "Enter", "half"]);
    assert_eq!(received(&peer, 2), ["ahead 1", "ahead 2"]);
    let half_line = format!("to {peer_addr}> half");
    tmux.wait_for("the half-typed line after the prompt", |screen| {
        rows(screen).last() == Some(&half_line.as_str())
    });
    tmux.type_text("way");
    tmux.press(&["Enter"]);
    assert_eq!(String::from_utf8(recv(&peer).0).unwrap(), "halfway");
}

#[test]
fn at_a_dumb_terminal_a_burst_of_lines_arriving_while_typing_never_shares_a_row() {
    const COUNT: usize = 2000;
    let Some((tmux, peer, prompt)) = chat_at_a_terminal(&[], DUMB) else {
        return;
    };
    let to = tmux.bound_addr();
    let burst = burst_of_lines(&peer, to, COUNT);
    tmux.wait_for("burst under way", |screen| screen.contains("burst 0"));
    // Key by key, so that lines arrive between them.
    for word in ["typed ", "during ", "the ", "burst"] {
        tmux.type_text(word);
    }
    tmux.press(&["Enter"]);
    assert_eq!(recv(&peer).0, b"typed during the burst");
    burst.join().unwrap();

    let last = format!("burst {:05}", COUNT - 1);
    let history = tmux.wait_with(
        "last line of the burst",
        || tmux.history(),
        |history| history.contains(&last),
    );
    let expected: Vec<String> = (0..COUNT).map(|i| format!("burst {i:05}")).collect();
    let lines: Vec<&str> = rows(&history)
        .into_iter()
        .filter(|row| row.contains("burst "))
        .collect();
    assert_eq!(
        lines, expected,
        "every received line on a row of its own, in order"
    );
    let typed: Vec<&str> = rows(&history)
        .into_iter()
        .filter(|row| row.starts_with(&prompt))
        .collect();
    assert_eq!(
        typed,
        [format!("{prompt}typed during the burst")],
        "the typed line, shown once and whole"
    );
}

#[test]
fn at_a_dumb_terminal_a_warning_logged_while_typing_starts_a_row_of_its_own() {
    let Some(stranger) = common::ipv6_loopback_socket() else {
        return;
    };
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let port = common::free_port();
    let bind = format!("[::]:{port}");
    let pane = common::Pane {
        stderr_on_screen: true,
        ..common::Pane::default()
    };
    let Some(tmux) = Tmux::start_with(&["-b", &bind, &peer_addr], DUMB, &pane) else {
        return;
    };
    let prompt = format!("to {peer_addr}> ");
    tmux.wait_for("prompt", |screen| screen.contains(prompt.trim_end()));
    tmux.type_text("half typed");
    let half_line = format!("{prompt}half typed");
    tmux.wait_for("half-typed line", |screen| screen.contains(&half_line));
    // A datagram from a host other than the peer is not shown, but warned about.
    stranger.send_to(b"from a stranger", ("::1", port)).unwrap();
    let screen = tmux.wait_for("the warning above the half-typed line", |screen| {
        screen.contains("ignoring datagrams") && rows(screen).last() == Some(&half_line.as_str())
    });
    let warning = rows(&screen)
        .into_iter()
        .find(|row| row.contains("ignoring datagrams"))
        .unwrap();
    assert!(warning.starts_with("udpchat: warning: "), "screen:\n{screen}");
    tmux.press(&["Enter"]);
    assert_eq!(recv(&peer).0, b"half typed");
}

#[test]
fn at_a_dumb_terminal_that_echoes_nothing_itself_udpchat_prints_lines_as_they_come() {
    // As Emacs's M-x shell runs a program: TERM=dumb, the terminal not
    // echoing, the typed text shown (and received lines put above it) by Emacs.
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let pane = common::Pane {
        before: "stty -echo",
        ..common::Pane::default()
    };
    let Some(tmux) = Tmux::start_with(&["-b", "127.0.0.1:0", &peer_addr], DUMB, &pane) else {
        return;
    };
    let to = tmux.bound_addr();
    tmux.wait_with(
        "udpchat chatting",
        || tmux.stderr(),
        |stderr| stderr.contains("chatting with"),
    );
    tmux.type_text("not echoed");
    peer.send_to(b"incoming", to).unwrap();
    let screen = tmux.wait_for("received line", |screen| screen.contains("incoming"));
    assert_eq!(rows(&screen), ["incoming"], "no prompt, no echo");
    tmux.press(&["Enter"]);
    assert_eq!(recv(&peer).0, b"not echoed");
    tmux.press(&["C-d"]);
    assert_eq!(tmux.exit_status(), (0, true), "(status, terminal mode kept)");
}
