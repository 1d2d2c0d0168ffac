//! Helpers shared by the integration tests: the real binary with bounded waits, and loopback sockets.
#![allow(dead_code)] // each test file uses its own subset

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use wait_timeout::ChildExt;

/// Upper bound for anything a test waits for; only reached when something is broken.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A UDP socket on 127.0.0.1 with a port the system picks. Its receives time
/// out, so a missing datagram fails the test instead of hanging it.
pub fn loopback_socket() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback socket");
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    socket
}

/// A loopback port that was free a moment ago (bound, then released), for a
/// process that must be told its port before it starts.
pub fn free_port() -> u16 {
    loopback_socket().local_addr().unwrap().port()
}

/// Receives one datagram, failing the test after [`TIMEOUT`].
pub fn recv(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0; 65_536];
    let (len, from) = socket.recv_from(&mut buf).expect("a datagram within the timeout");
    buf.truncate(len);
    (buf, from)
}

/// A UDP socket on ::1 with a port the system picks, to play a host other than
/// a peer on 127.0.0.1 (only 127.0.0.1 and ::1 may carry test traffic, and the
/// two are different IP addresses). `None` where there is no IPv6 loopback.
pub fn ipv6_loopback_socket() -> Option<UdpSocket> {
    let socket = UdpSocket::bind("[::1]:0").ok()?;
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    Some(socket)
}

/// Runs udpchat to completion with stdin closed; returns its exit code and stderr.
pub fn run<S: AsRef<OsStr>>(args: &[S]) -> (Option<i32>, String) {
    run_via(env!("CARGO_BIN_EXE_udpchat"), args, &[])
}

/// Runs `program ARGS` (udpchat, or a wrapper around it) with stdin closed,
/// the environment variables `env` set, and a bounded wait; returns its exit
/// code and stderr.
pub fn run_via<S: AsRef<OsStr>>(program: &str, args: &[S], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = output_via(program, args, env);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr)
}

/// Like [`run_via`], returning all the process printed: its exit status,
/// stdout and stderr. Fails the test after [`TIMEOUT`].
pub fn output_via<S: AsRef<OsStr>>(program: &str, args: &[S], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("UDPCHAT_BIND")
        .env_remove("UDPCHAT_PEER")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {program}: {err}"));
    // Read while waiting, so that a full pipe cannot stall the process.
    let stdout = read_all(child.stdout.take().unwrap());
    let stderr = read_all(child.stderr.take().unwrap());
    let status = match child.wait_timeout(TIMEOUT).unwrap() {
        Some(status) => status,
        None => {
            child.kill().unwrap();
            let args: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
            panic!("{program} {args:?} did not exit within {TIMEOUT:?}");
        }
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Reads a pipe to its end on a thread.
fn read_all(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// The `udpchat` binary, run with piped stdio and read from background threads.
pub struct Udpchat {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Receiver<Vec<u8>>,
    stderr: Arc<Mutex<String>>,
    stderr_lines: Receiver<String>,
    printed: Arc<AtomicU64>,
}

/// How much memory a process uses, from `/proc/PID/status`, in KiB.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    /// Resident now (`VmRSS`).
    pub rss_kib: u64,
    /// The most ever resident (`VmHWM`, the high-water mark).
    pub peak_kib: u64,
}

impl Udpchat {
    /// Starts `udpchat ARGS` with `-v`, so it reports the address it bound.
    pub fn start(args: &[&str]) -> Udpchat {
        Self::start_with(args, |_| {})
    }

    /// Starts udpchat on a loopback port the system picks, with `flags`,
    /// chatting with `peer`: the set-up most tests share.
    pub fn with_peer(peer: &UdpSocket, flags: &[&str]) -> Udpchat {
        Self::with_peer_adjusted(peer, flags, |_| {})
    }

    /// Like [`with_peer`](Self::with_peer), letting the caller adjust the command first.
    pub fn with_peer_adjusted(
        peer: &UdpSocket,
        flags: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Udpchat {
        let peer = peer.local_addr().expect("a bound peer socket");
        let bind = if peer.is_ipv6() { "[::1]:0" } else { "127.0.0.1:0" };
        let peer = peer.to_string();
        let mut args = flags.to_vec();
        args.extend_from_slice(&["-b", bind, &peer]);
        Self::start_with(&args, adjust)
    }

    /// Like [`start`](Self::start), letting the caller adjust the command first.
    pub fn start_with(args: &[&str], adjust: impl FnOnce(&mut Command)) -> Udpchat {
        Self::start_keeping(args, adjust, |_| true)
    }

    /// Like [`start_with`](Self::start_with), but only stdout lines for which
    /// `keep` is true are kept for [`line`](Self::line); the others are only
    /// counted ([`printed`](Self::printed)), so a flood cannot fill the test's memory.
    pub fn start_keeping(
        args: &[&str],
        adjust: impl FnOnce(&mut Command),
        keep: fn(&[u8]) -> bool,
    ) -> Udpchat {
        let command = Command::new(env!("CARGO_BIN_EXE_udpchat"));
        Self::spawn(command, args, adjust, keep)
    }

    /// Like [`start`](Self::start), inside the network namespace `netns`.
    pub fn start_in(netns: &Netns, args: &[&str]) -> Udpchat {
        let command = netns.command(env!("CARGO_BIN_EXE_udpchat"));
        Self::spawn(command, args, |_| {}, |_| true)
    }

    fn spawn(
        mut command: Command,
        args: &[&str],
        adjust: impl FnOnce(&mut Command),
        keep: fn(&[u8]) -> bool,
    ) -> Udpchat {
        command
            .arg("-v")
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("UDPCHAT_BIND")
            .env_remove("UDPCHAT_PEER")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        adjust(&mut command);
        let mut child = command.spawn().expect("start udpchat");
        let stdin = child.stdin.take();
        let printed = Arc::new(AtomicU64::new(0));
        let stdout = match child.stdout.take() {
            Some(pipe) => lines_of(pipe, keep, printed.clone()),
            None => crossbeam_channel::never(), // the caller redirected it
        };
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, stderr_lines) = crossbeam_channel::unbounded();
        let mut err = BufReader::new(child.stderr.take().expect("piped stderr"));
        let all = stderr.clone();
        thread::spawn(move || {
            let mut line = String::new();
            while err.read_line(&mut line).unwrap_or(0) > 0 {
                all.lock().unwrap().push_str(&line);
                let _ = tx.send(std::mem::take(&mut line));
            }
        });
        Udpchat {
            child,
            stdin,
            stdout,
            stderr,
            stderr_lines,
            printed,
        }
    }

    /// How many lines udpchat has printed so far, kept or not.
    pub fn printed(&self) -> u64 {
        self.printed.load(Ordering::Relaxed)
    }

    /// udpchat's memory use now, from `/proc/PID/status` (Linux).
    pub fn memory(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("udpchat is still running");
        let field = |name: &str| -> u64 {
            let line = status
                .lines()
                .find(|line| line.starts_with(name))
                .unwrap_or_else(|| panic!("no {name} in /proc/PID/status"));
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        };
        Memory {
            rss_kib: field("VmRSS:"),
            peak_kib: field("VmHWM:"),
        }
    }

    /// The local address udpchat reports at `-v` once its socket is bound.
    pub fn bound_addr(&self) -> SocketAddr {
        bound_addr_in(&self.stderr_line_containing("bound "))
    }

    /// The port a room member sends from, which it reports at `-v` once it
    /// has joined: its lines reach the others from this port.
    pub fn sending_port(&self) -> u16 {
        let line = self.stderr_line_containing("sending from ");
        let addr = line.split("sending from ").nth(1).unwrap().trim_end();
        let addr: SocketAddr = addr.parse().unwrap_or_else(|_| panic!("no address in {line:?}"));
        addr.port()
    }

    /// Waits for a line on stderr that contains `needle`, and returns it.
    pub fn stderr_line_containing(&self, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.stderr_lines.recv_deadline(deadline) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no stderr line containing {needle:?}; stderr:\n{}", self.stderr()),
            }
        }
    }

    /// Writes to udpchat's stdin.
    pub fn send(&mut self, text: impl AsRef<[u8]>) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(text.as_ref()).unwrap();
        stdin.flush().unwrap();
    }

    /// Closes udpchat's stdin: the end of input.
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Gives stdin to the caller, e.g. to feed it from another thread.
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("stdin still open")
    }

    /// The next line udpchat printed (without `\n`), failing the test after [`TIMEOUT`].
    pub fn line(&self) -> Vec<u8> {
        self.try_line(TIMEOUT)
            .unwrap_or_else(|| panic!("no line on stdout within {TIMEOUT:?}; stderr:\n{}", self.stderr()))
    }

    /// The next line as text.
    pub fn text_line(&self) -> String {
        String::from_utf8(self.line()).expect("stdout is UTF-8")
    }

    /// The next line within `timeout`, or `None`.
    pub fn try_line(&self, timeout: Duration) -> Option<Vec<u8>> {
        self.stdout.recv_timeout(timeout).ok()
    }

    /// Sends a signal, e.g. `SIGINT` for Ctrl-C.
    #[cfg(unix)]
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("send a signal");
    }

    /// Waits for udpchat to exit, killing it and failing the test after [`TIMEOUT`].
    /// stdin is left as it is: closing it would race the end of input with a signal.
    pub fn wait(&mut self) -> ExitStatus {
        match self.child.wait_timeout(TIMEOUT).unwrap() {
            Some(status) => status,
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "udpchat did not exit within {TIMEOUT:?}; stderr:\n{}",
                    self.stderr()
                )
            }
        }
    }

    /// Waits for the exit and returns its code, with stderr for assertion messages.
    pub fn exit_code(&mut self) -> (Option<i32>, String) {
        let status = self.wait();
        // stderr is read by a thread; it is complete once the pipe closes.
        let deadline = Instant::now() + TIMEOUT;
        while self.stderr_lines.recv_deadline(deadline).is_ok() {}
        (status.code(), self.stderr())
    }

    /// Everything udpchat wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Udpchat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in udpchat's `-v` line `udpchat: info: bound ADDR, receive buffer N bytes`.
fn bound_addr_in(line: &str) -> SocketAddr {
    let addr = line
        .split("bound ")
        .nth(1)
        .and_then(|rest| rest.split(',').next());
    addr.and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

/// Splits a pipe into lines on a background thread, counting them all and
/// passing on those that `keep` accepts.
fn lines_of(
    pipe: impl Read + Send + 'static,
    keep: fn(&[u8]) -> bool,
    count: Arc<AtomicU64>,
) -> Receiver<Vec<u8>> {
    let (tx, rx) = crossbeam_channel::unbounded();
    thread::spawn(move || {
        let mut pipe = BufReader::with_capacity(256 * 1024, pipe);
        let mut line = Vec::new();
        while pipe.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            count.fetch_add(1, Ordering::Relaxed);
            if keep(&line) && tx.send(std::mem::take(&mut line)).is_err() {
                break;
            }
            line.clear();
        }
    });
    rx
}

/// A small, fast pseudo-random generator (xorshift64*) for test data. Its
/// seed is printed, and `UDPCHAT_TEST_SEED` replays a failing run.
pub struct Rng(u64);

impl Rng {
    pub fn from_env_or_clock() -> Rng {
        let seed = std::env::var("UDPCHAT_TEST_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or_else(|| {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                now.unwrap().as_nanos() as u64 | 1
            });
        eprintln!("random seed: UDPCHAT_TEST_SEED={seed}");
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    pub fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes()[..chunk.len()]);
        }
    }
}

/// udpchat on the dual-stack `[::]:0`, a peer on 127.0.0.1 and a stranger on
/// ::1. Only those two loopbacks may carry test traffic, and to udpchat they
/// are different IP addresses, exactly as two hosts on a LAN are.
pub struct Lan {
    pub chat: Udpchat,
    pub peer: UdpSocket,
    pub stranger: UdpSocket,
    /// udpchat's address as the peer reaches it.
    pub via_v4: SocketAddr,
    /// udpchat's address as the stranger reaches it.
    pub via_v6: SocketAddr,
}

impl Lan {
    /// Starts `udpchat FLAGS PEER`, keeping the stdout lines `keep` accepts
    /// (see [`Udpchat::start_keeping`]). `None`, saying so, where there is no
    /// IPv6 loopback: the test is then skipped.
    pub fn start(flags: &[&str], keep: fn(&[u8]) -> bool) -> Option<Lan> {
        let Some(stranger) = ipv6_loopback_socket() else {
            eprintln!("skipped: no IPv6 loopback to play a stranger");
            return None;
        };
        let peer = loopback_socket();
        let peer_addr = peer.local_addr().unwrap().to_string();
        let mut args = vec!["-b", "[::]:0"];
        args.extend_from_slice(flags);
        args.push(&peer_addr);
        let chat = Udpchat::start_keeping(&args, |_| {}, keep);
        let port = chat.bound_addr().port();
        Some(Lan {
            chat,
            peer,
            stranger,
            via_v4: (Ipv4Addr::LOCALHOST, port).into(),
            via_v6: (Ipv6Addr::LOCALHOST, port).into(),
        })
    }
}

/// Two udpchat processes on loopback, each the other's peer, plus `extra` arguments.
pub fn two_udpchats(extra: &[&str]) -> (Udpchat, Udpchat) {
    let a_port = free_port();
    let a_peer_of_b = format!("127.0.0.1:{a_port}");
    let mut b_args = vec!["-b", "127.0.0.1:0"];
    b_args.extend_from_slice(extra);
    b_args.push(&a_peer_of_b);
    let b = Udpchat::start(&b_args);
    let b_addr = b.bound_addr().to_string();
    let a_bind = format!("127.0.0.1:{a_port}");
    let mut a_args = vec!["-b", a_bind.as_str()];
    a_args.extend_from_slice(extra);
    a_args.push(&b_addr);
    let a = Udpchat::start(&a_args);
    a.bound_addr();
    (a, b)
}

/// udpchat on a real terminal: a private tmux server (its own socket, so tests
/// run in parallel and never touch a user's tmux) with one pane of fixed size.
///
/// The pane runs a small shell script that saves the terminal's mode
/// (`stty -g`), runs udpchat with stderr to a file, then records its exit
/// status and the mode again, so a test can check both after udpchat exits.
pub struct Tmux {
    socket: String,
    dir: std::path::PathBuf,
}

impl Tmux {
    /// Starts `udpchat -v ARGS` in a 100x30 pane with `env` set (and `NO_COLOR`,
    /// `RUST_LOG`, `UDPCHAT_BIND` unset otherwise). Returns `None`, saying why
    /// on stderr, when tmux is not installed, except in CI (`CI` set), where
    /// `.ci/run` installs it and its absence fails the test.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Option<Tmux> {
        let tmux = Tmux::new()?;
        let script = format!(
            "cd {dir}\n{setup}stty -g > before\nsh -c 'echo $$ > pid; exec \"$@\"' sh {command} 2> stderr\n\
             echo $? > status.tmp\nstty -g > after\nmv status.tmp status\n",
            dir = quote(tmux.dir.to_str().unwrap()),
            setup = setup(env),
            command = udpchat_command(args),
        );
        std::fs::write(tmux.dir.join("run.sh"), script).unwrap();
        let run = tmux.dir.join("run.sh");
        tmux.open_pane(&format!("sh {}", run.to_str().unwrap()));
        Some(tmux)
    }

    /// Like [`start`](Self::start), but typed at an interactive bash with job
    /// control, as a person would run it: Ctrl-Z stops udpchat and the test
    /// can type `fg`. Call [`shell_exit_status`](Self::shell_exit_status), not
    /// `exit_status`, once udpchat has ended. `None`, saying why, without bash.
    pub fn start_in_shell(args: &[&str], env: &[(&str, &str)]) -> Option<Tmux> {
        if Command::new("bash").arg("--version").output().is_err() {
            eprintln!("skipped: bash is not installed, to run udpchat as a job");
            return None;
        }
        let tmux = Tmux::new()?;
        // No startup files, no history file, and a prompt easy to find.
        tmux.open_pane(&format!(
            "cd {dir} && env HISTFILE= PS1='$ ' bash --norc --noprofile -i",
            dir = quote(tmux.dir.to_str().unwrap()),
        ));
        tmux.wait_for("the shell's prompt", |screen| screen.trim_end().ends_with('$'));
        // One line, so the shell reads no more until udpchat stops or ends.
        tmux.type_text(&format!(
            "{setup}stty -g > before; sh -c 'echo $$ > pid; exec \"$@\"' sh {command} 2> stderr",
            setup = setup(env).replace('\n', "; "),
            command = udpchat_command(args),
        ));
        tmux.press(&["Enter"]);
        Some(tmux)
    }

    /// After udpchat started by [`start_in_shell`](Self::start_in_shell) has
    /// ended: its exit status, and whether the terminal's mode is as before.
    pub fn shell_exit_status(&self) -> (i32, bool) {
        self.wait_for("the shell's prompt after udpchat", |screen| {
            screen.trim_end().ends_with('$')
        });
        self.type_text("echo $? > status.tmp; stty -g > after; mv status.tmp status");
        self.press(&["Enter"]);
        self.exit_status()
    }

    /// Whether the terminal is in raw mode now, as a line editor sets it:
    /// no line buffering (`-icanon`) and no echo (`-echo`).
    pub fn terminal_is_raw(&self) -> bool {
        let tty = self.run(&["display-message", "-p", "-t", "0", "#{pane_tty}"]);
        let output = Command::new("stty")
            .args(["-a", "-F", tty.trim_end()])
            .stdin(Stdio::null())
            .output()
            .expect("run stty");
        let modes = String::from_utf8_lossy(&output.stdout);
        let modes: Vec<&str> = modes.split_whitespace().collect();
        modes.contains(&"-icanon") && modes.contains(&"-echo")
    }

    /// A private tmux server's directory and settings, no pane yet; `None`
    /// where tmux is not installed (see [`start`](Self::start)).
    fn new() -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            // .ci/run installs it: in CI a missing tmux is a broken setup, not a skip.
            assert!(std::env::var_os("CI").is_none(), "tmux is not installed");
            eprintln!("skipped: tmux is not installed (apt-get install tmux)");
            return None;
        }
        let unique = format!("udpchat-test-{}-{}", std::process::id(), unique_number());
        let dir = std::env::temp_dir().join(&unique);
        std::fs::create_dir(&dir).unwrap();
        // A long history, so that a test can read back a burst of lines;
        // the pane stays on screen after the script ends.
        std::fs::write(
            dir.join("tmux.conf"),
            "set -g history-limit 100000\nset -g remain-on-exit on\n",
        )
        .unwrap();
        Some(Tmux { socket: unique, dir })
    }

    /// Starts the server with one 100x30 pane running `command`.
    fn open_pane(&self, command: &str) {
        let conf = self.dir.join("tmux.conf");
        self.run(&[
            "-f",
            conf.to_str().unwrap(),
            "new-session",
            "-d",
            "-x",
            "100",
            "-y",
            "30",
            command,
        ]);
    }

    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux");
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Types `text` as it is, character by character.
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "0", "-l", text]);
    }

    /// Presses keys by name: `Enter`, `Left`, `C-c`, `C-d`.
    pub fn press(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// The visible screen, one line per row, trailing blanks trimmed.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "0"])
    }

    /// The screen with colours and attributes as SGR escape sequences.
    pub fn screen_with_attributes(&self) -> String {
        self.run(&["capture-pane", "-p", "-e", "-t", "0"])
    }

    /// Everything the pane shows and has scrolled away, oldest first.
    pub fn history(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "0", "-S", "-", "-E", "-"])
    }

    /// The cursor's column and row on the screen.
    pub fn cursor(&self) -> (usize, usize) {
        let position = self.run(&["display-message", "-p", "-t", "0", "#{cursor_x} #{cursor_y}"]);
        let mut numbers = position.split_whitespace().map(|n| n.parse().unwrap());
        (numbers.next().unwrap(), numbers.next().unwrap())
    }

    /// The pane's title, which a terminal escape sequence (OSC 2) can set.
    pub fn title(&self) -> String {
        self.run(&["display-message", "-p", "-t", "0", "#{pane_title}"])
            .trim_end()
            .to_owned()
    }

    /// Waits until `ready` holds for the screen, and returns that screen;
    /// fails the test after [`TIMEOUT`], showing the screen.
    pub fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        self.wait_with(what, || self.screen(), ready)
    }

    /// Like [`wait_for`](Self::wait_for), reading the screen with `capture`.
    pub fn wait_with(
        &self,
        what: &str,
        capture: impl Fn() -> String,
        ready: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let screen = capture();
            if ready(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!(
                    "no {what} on the terminal within {TIMEOUT:?}; screen:\n{screen}\nstderr:\n{}",
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The address udpchat reports at `-v` once its socket is bound.
    pub fn bound_addr(&self) -> SocketAddr {
        let stderr = self.wait_file("stderr", |text| text.contains("bound "));
        bound_addr_in(stderr.lines().find(|line| line.contains("bound ")).unwrap())
    }

    /// udpchat's process id.
    #[cfg(unix)]
    pub fn pid(&self) -> nix::unistd::Pid {
        let pid = self.wait_file("pid", |text| text.ends_with('\n'));
        nix::unistd::Pid::from_raw(pid.trim().parse().unwrap())
    }

    /// Waits for udpchat to exit; returns its exit status and whether the
    /// terminal's mode afterwards is the one it had before.
    pub fn exit_status(&self) -> (i32, bool) {
        let status = self.wait_file("status", |text| text.ends_with('\n'));
        let before = std::fs::read_to_string(self.dir.join("before")).unwrap();
        let after = std::fs::read_to_string(self.dir.join("after")).unwrap();
        (status.trim().parse().unwrap(), before == after)
    }

    /// What udpchat wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    fn wait_file(&self, name: &str, complete: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Ok(text) = std::fs::read_to_string(self.dir.join(name))
                && complete(&text)
            {
                return text;
            }
            if Instant::now() > deadline {
                panic!(
                    "no {name} within {TIMEOUT:?}; screen:\n{}\nstderr:\n{}",
                    self.screen(),
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `s` quoted for the shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `udpchat -v ARGS`, quoted for the shell.
fn udpchat_command(args: &[&str]) -> String {
    let mut command = vec![quote(env!("CARGO_BIN_EXE_udpchat")), "-v".to_owned()];
    command.extend(args.iter().map(|arg| quote(arg)));
    command.join(" ")
}

/// Shell lines that unset the variables udpchat reads and export `env`.
fn setup(env: &[(&str, &str)]) -> String {
    let exports: String = env
        .iter()
        .map(|(name, value)| format!("export {name}={}\n", quote(value)))
        .collect();
    format!("unset NO_COLOR RUST_LOG UDPCHAT_BIND\n{exports}")
}

/// A number no other call in this process returns.
fn unique_number() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A network namespace made for one test, with only the interfaces the test
/// adds, so that broadcasts and multicasts never reach a real network. It is
/// deleted when dropped.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Makes a namespace and runs `setup` in it, each entry the arguments of
    /// one `ip` command (`["link", "set", "lo", "up"]`). Returns `None`, saying
    /// why on stderr, where namespaces cannot be made (not root, no `ip`, a
    /// container without the capability): the test is then skipped.
    pub fn new(setup: &[&[&str]]) -> Option<Netns> {
        let name = format!("udpchat-test-{}-{}", std::process::id(), unique_number());
        let added = Command::new("ip")
            .args(["netns", "add", &name])
            .stdin(Stdio::null())
            .output();
        match added {
            Ok(output) if output.status.success() => {}
            Ok(output) => {
                let why = String::from_utf8_lossy(&output.stderr);
                eprintln!(
                    "skipped: cannot make a network namespace (ip netns add): {}",
                    why.trim()
                );
                return None;
            }
            Err(err) => {
                eprintln!("skipped: cannot run ip (iproute2) to make a network namespace: {err}");
                return None;
            }
        }
        let netns = Netns { name };
        for args in setup {
            let output = Command::new("ip")
                .args(["-n", &netns.name])
                .args(*args)
                .stdin(Stdio::null())
                .output()
                .expect("run ip");
            if !output.status.success() {
                let why = String::from_utf8_lossy(&output.stderr);
                eprintln!(
                    "skipped: cannot set up the namespace (ip {}): {}",
                    args.join(" "),
                    why.trim()
                );
                return None;
            }
        }
        Some(netns)
    }

    /// `program` to be run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
