//! The `udpchat` binary, run with bounded waits: to completion, or alive with its stdio piped.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use wait_timeout::ChildExt;

use super::{Netns, TIMEOUT, free_port, ipv6_loopback_socket, loopback_socket, unique_number};

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

    /// Like [`start_with`](Self::start_with), but runs another build of
    /// udpchat: `program LEAD... -v ARGS...`, e.g. `wine udpchat.exe`.
    pub fn start_other(
        program: &str,
        lead: &[&str],
        args: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Udpchat {
        let mut command = Command::new(program);
        command.args(lead);
        Self::spawn(command, args, adjust, |_| true)
    }

    /// Like [`start`](Self::start), inside the network namespace `netns`.
    pub fn start_in(netns: &Netns, args: &[&str]) -> Udpchat {
        let command = netns.command(env!("CARGO_BIN_EXE_udpchat"));
        Self::spawn(command, args, |_| {}, |_| true)
    }

    /// Like [`start_in`](Self::start_in), letting the caller adjust the command first.
    pub fn start_in_with(netns: &Netns, args: &[&str], adjust: impl FnOnce(&mut Command)) -> Udpchat {
        let command = netns.command(env!("CARGO_BIN_EXE_udpchat"));
        Self::spawn(command, args, adjust, |_| true)
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

    /// udpchat's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
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
        self.stderr_line_containing_any(&[needle])
    }

    /// Waits up to `timeout` for a line on stderr that contains `needle`.
    pub fn try_stderr_line_containing(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.stderr_lines.recv_deadline(deadline) {
                Ok(line) if line.contains(needle) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Waits for a line on stderr that contains one of `needles`, and returns it.
    pub fn stderr_line_containing_any(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.stderr_lines.recv_deadline(deadline) {
                Ok(line) if needles.iter().any(|needle| line.contains(needle)) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "no stderr line containing {needles:?}; stderr:\n{}",
                    self.stderr()
                ),
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

    /// Waits up to `timeout` for udpchat to exit; true if it has.
    pub fn exited_within(&mut self, timeout: Duration) -> bool {
        self.child.wait_timeout(timeout).unwrap().is_some()
    }

    /// Kills udpchat at once (SIGKILL) and waits for it. What it printed
    /// before stays readable: [`rest_of_stdout`](Self::rest_of_stdout).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Every line on stdout not taken yet, to its end, once udpchat has
    /// exited (its pipe closes when it does); fails the test if stdout is
    /// still open after [`TIMEOUT`].
    pub fn rest_of_stdout(&self) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + TIMEOUT;
        let mut lines = Vec::new();
        loop {
            match self.stdout.recv_deadline(deadline) {
                Ok(line) => lines.push(line),
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return lines,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    panic!("stdout still open after {TIMEOUT:?}; stderr:\n{}", self.stderr())
                }
            }
        }
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
pub(super) fn bound_addr_in(line: &str) -> SocketAddr {
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
    /// (see [`Udpchat::start_keeping`]). `None` where there is no IPv6
    /// loopback to play the stranger (see [`skip_or_fail`](super::skip_or_fail)).
    pub fn start(flags: &[&str], keep: fn(&[u8]) -> bool) -> Option<Lan> {
        let stranger = ipv6_loopback_socket()?;
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

/// A secret file in a directory of its own, removed when dropped.
pub struct SecretFile(pub PathBuf);

impl SecretFile {
    pub fn new(contents: &str, mode: u32) -> SecretFile {
        let dir = std::env::temp_dir().join(format!(
            "udpchat-secret-{}-{}",
            std::process::id(),
            unique_number()
        ));
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("chat.secret");
        std::fs::write(&path, contents).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let _ = mode;
        SecretFile(path)
    }

    /// A freshly generated secret, in a file only its owner reads.
    pub fn secret() -> SecretFile {
        let output = Command::new(env!("CARGO_BIN_EXE_udpchat"))
            .args(["--generate", "secret"])
            .output()
            .unwrap();
        assert!(output.status.success());
        SecretFile::new(std::str::from_utf8(&output.stdout).unwrap(), 0o600)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
    }
}
