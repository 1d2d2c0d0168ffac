//! Netcat and socat as peers: a line typed at udpchat reaches them, an empty one is not sent, and their sessions go on.
//!
//! An empty datagram is the end of input to `nc -u`, `ncat -u` and `socat`:
//! OpenBSD's `nc` stops printing what arrives (or exits, listening), `ncat`
//! and `socat` exit. So Enter on an empty line at udpchat's terminal sends
//! nothing. Each test runs the real tool with the command line README gives,
//! and udpchat in tmux: a line, an empty line, a line, and a reply.

// Linux: whether the tool has bound its port is read from /proc/net/udp.
#![cfg(all(feature = "cli", target_os = "linux"))]

mod common;

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Instant;

use common::{TIMEOUT, Tmux, free_port, loopback_socket, recv, skip_or_fail};
use crossbeam_channel::Receiver;

/// A netcat-like tool on loopback, its stdin kept open, its stdout read.
struct Tool {
    name: String,
    child: Child,
    stdin: ChildStdin,
    output: Receiver<Vec<u8>>,
    printed: Vec<u8>,
}

impl Tool {
    /// Starts `command`, which binds 127.0.0.1:`port`, and waits until it
    /// has; `None` where the tool is not installed (see [`skip_or_fail`]).
    fn start(command: &[&str], port: u16) -> Option<Tool> {
        let name = command.join(" ");
        let spawned = Command::new(command[0])
            .args(&command[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(err) => {
                skip_or_fail(format_args!(
                    "cannot run {name} (netcat-openbsd, ncat, socat): {err}"
                ));
                return None;
            }
        };
        let stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (chunks, output) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            let mut buf = [0; 4096];
            while let Ok(len @ 1..) = stdout.read(&mut buf) {
                if chunks.send(buf[..len].to_vec()).is_err() {
                    return;
                }
            }
        });
        let mut tool = Tool {
            name,
            child,
            stdin,
            output,
            printed: Vec::new(),
        };
        tool.wait_until_bound(port);
        Some(tool)
    }

    /// Waits until a UDP socket on 127.0.0.1:`port` exists, as the kernel
    /// lists them (binding the port to find out would take it from the tool).
    fn wait_until_bound(&mut self, port: u16) {
        let local = format!("0100007F:{port:04X} ");
        let deadline = Instant::now() + TIMEOUT;
        while !std::fs::read_to_string("/proc/net/udp").unwrap().contains(&local) {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "{} exited before binding its port",
                self.name
            );
            assert!(Instant::now() < deadline, "{} never bound its port", self.name);
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Waits until the tool has printed `text` (datagrams come without
    /// newlines, so its output runs on); fails the test after [`TIMEOUT`].
    fn wait_for_output(&mut self, text: &str) {
        let deadline = Instant::now() + TIMEOUT;
        while !String::from_utf8_lossy(&self.printed).contains(text) {
            match self.output.recv_deadline(deadline) {
                Ok(chunk) => self.printed.extend_from_slice(&chunk),
                Err(_) => panic!(
                    "{} printed {:?}, not {text:?}, within {TIMEOUT:?}; still running: {}",
                    self.name,
                    String::from_utf8_lossy(&self.printed),
                    self.child.try_wait().unwrap().is_none()
                ),
            }
        }
    }

    /// Types a line into the tool, which sends it.
    fn say(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
    }
}

/// The last row with something on it, without trailing blanks.
fn last_row(screen: &str) -> Option<&str> {
    screen.lines().map(str::trim_end).rfind(|row| !row.is_empty())
}

impl Drop for Tool {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// udpchat at a terminal on 127.0.0.1:`chat_port`, chatting with a tool
/// started by `command` (given the two ports) on its own port: a line
/// reaches it, Enter on an empty line sends nothing, and the next line
/// still reaches it; the tool's reply shows; Ctrl-D ends udpchat with 0.
fn a_typed_empty_line_does_not_end_the_session_of(command: fn(u16, u16) -> Vec<String>) {
    let (chat_port, tool_port) = (free_port(), free_port());
    let command = command(tool_port, chat_port);
    let command: Vec<&str> = command.iter().map(String::as_str).collect();
    let Some(mut tool) = Tool::start(&command, tool_port) else {
        return;
    };
    let peer = format!("127.0.0.1:{tool_port}");
    let Some(tmux) = Tmux::start(&["-b", &format!("127.0.0.1:{chat_port}"), &peer], &[]) else {
        return;
    };
    let prompt = format!("to {peer}>");
    tmux.wait_for("the prompt", |screen| screen.contains(&prompt));
    tmux.type_text("first line");
    tmux.press(&["Enter"]);
    tool.wait_for_output("first line");
    tmux.press(&["Enter"]);
    tmux.type_text("after an empty one");
    tmux.press(&["Enter"]);
    tool.wait_for_output("after an empty one");
    assert!(
        tool.child.try_wait().unwrap().is_none(),
        "{} has exited",
        tool.name
    );
    assert!(!tmux.stderr().contains("empty"), "{}", tmux.stderr());

    tool.say("a reply");
    tmux.wait_for("the reply", |screen| screen.contains("a reply"));
    // Ctrl-D once the editor is back (between two lines it would be the
    // terminal's, and lost).
    tmux.wait_for("an empty prompt", |screen| last_row(screen) == Some(&prompt));
    tmux.press(&["C-d"]);
    assert_eq!(tmux.exit_status(), (0, true), "(status, terminal mode kept)");
    let stderr = tmux.stderr();
    assert!(stderr.contains("2 lines sent"), "{stderr}");
}

#[test]
fn a_typed_empty_line_does_not_stop_openbsd_nc() {
    a_typed_empty_line_does_not_end_the_session_of(|own, udpchat| {
        [
            "nc",
            "-u",
            "-p",
            &own.to_string(),
            "127.0.0.1",
            &udpchat.to_string(),
        ]
        .map(String::from)
        .to_vec()
    });
}

#[test]
fn a_typed_empty_line_does_not_end_a_listening_openbsd_nc() {
    a_typed_empty_line_does_not_end_the_session_of(|own, _| {
        ["nc", "-u", "-l", "127.0.0.1", &own.to_string()]
            .map(String::from)
            .to_vec()
    });
}

#[test]
fn a_typed_empty_line_does_not_end_ncat() {
    a_typed_empty_line_does_not_end_the_session_of(|own, udpchat| {
        [
            "ncat",
            "-u",
            "-p",
            &own.to_string(),
            "127.0.0.1",
            &udpchat.to_string(),
        ]
        .map(String::from)
        .to_vec()
    });
}

#[test]
fn a_typed_empty_line_does_not_end_socat() {
    a_typed_empty_line_does_not_end_the_session_of(|own, udpchat| {
        vec![
            "socat".to_owned(),
            "STDIO".to_owned(),
            format!("UDP:127.0.0.1:{udpchat},bind=127.0.0.1:{own}"),
        ]
    });
}

/// Without a line editor (TERM=dumb, where udpchat echoes the keys
/// itself), an empty line is not sent either.
#[test]
fn a_typed_empty_line_is_not_sent_at_a_dumb_terminal_either() {
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let Some(tmux) = Tmux::start(&["-b", "127.0.0.1:0", &peer_addr], &[("TERM", "dumb")]) else {
        return;
    };
    let prompt = format!("to {peer_addr}>");
    tmux.wait_for("the prompt", |screen| screen.contains(&prompt));
    for keys in ["one", "", "two"] {
        tmux.type_text(keys);
        tmux.press(&["Enter"]);
    }
    assert_eq!(recv(&peer).0, b"one");
    assert_eq!(recv(&peer).0, b"two", "the empty line was sent");
    tmux.wait_for("an empty prompt", |screen| last_row(screen) == Some(&prompt));
    tmux.press(&["C-d"]);
    assert_eq!(tmux.exit_status().0, 0);
    assert!(
        tmux.stderr()
            .contains("2 lines sent, 0 datagrams received, 1 empty line skipped")
    );
}
