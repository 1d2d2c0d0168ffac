//! Reliable delivery (`--reliable`, issue 22), end to end: every line piped arrives once and in order through duplication, reordering, loss, a stalled or restarted receiver; what cannot be delivered is named and sets the exit status.

#![cfg(feature = "cli")]

mod common;

use std::collections::BTreeSet;
use std::fs::File;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::relay::{Carried, Mangling, Relay};
use common::sealing::{self, Key, ack_body, now_ms};
use common::{Rng, TIMEOUT, Udpchat, free_port, loopback_socket, recv, unique_number};

/// `count` lines of input, `line 00001 ...` on, each 48 bytes.
fn numbered(count: u64) -> Vec<String> {
    (1..=count)
        .map(|i| format!("line {i:05} of a file sent with --reliable, ok"))
        .collect()
}

/// A file of lines to pipe into a sender, removed when dropped.
struct InputFile(PathBuf);

impl InputFile {
    fn new(lines: &[String]) -> InputFile {
        let path = std::env::temp_dir().join(format!(
            "udpchat-reliable-{}-{}.txt",
            std::process::id(),
            unique_number()
        ));
        let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
        std::fs::write(&path, text).unwrap();
        InputFile(path)
    }

    fn open(&self) -> File {
        File::open(&self.0).unwrap()
    }
}

impl Drop for InputFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `udpchat --recv-only` holding `key`, bound to `bind`, hearing `peer`;
/// and the address it bound, once it has.
fn receiver(key: &Key, bind: &str, peer: &str, flags: &[&str]) -> (Udpchat, String) {
    receiver_with(key, bind, peer, flags, |_| {})
}

/// Like [`receiver`], letting the caller adjust the command first (e.g.
/// give it an output of its own).
fn receiver_with(
    key: &Key,
    bind: &str,
    peer: &str,
    flags: &[&str],
    adjust: impl FnOnce(&mut std::process::Command),
) -> (Udpchat, String) {
    let mut args = vec!["--recv-only", "--secret-file", key.file.path(), "-b", bind];
    args.extend_from_slice(flags);
    args.push(peer);
    let chat = Udpchat::start_with(&args, adjust);
    let bound = chat.bound_addr().to_string();
    (chat, bound)
}

/// `udpchat --reliable` holding `key`, bound to `bind`, sending `input` to `peers`.
fn sender(key: &Key, bind: &str, peers: &[&str], flags: &[&str], input: &InputFile) -> Udpchat {
    let mut args = vec!["--reliable", "--secret-file", key.file.path(), "-b", bind];
    args.extend_from_slice(flags);
    args.extend_from_slice(peers);
    Udpchat::start_with(&args, |command| {
        command.stdin(input.open());
    })
}

/// A loopback address on a port that was free a moment ago, for a chat that
/// must be named to another before it starts.
fn free_addr() -> String {
    format!("127.0.0.1:{}", free_port())
}

/// Checks that `shown` is `expected`: every line once, in order. On a
/// difference, names the first one rather than printing thousands of lines.
#[track_caller]
fn assert_once_in_order(shown: &[Vec<u8>], expected: &[String], context: &str) {
    for (at, (shown, expected)) in shown.iter().zip(expected).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(shown),
            expected.as_str(),
            "line {} of {} differs; {context}",
            at + 1,
            expected.len(),
        );
    }
    assert_eq!(
        shown.len(),
        expected.len(),
        "{} lines shown, {} expected (the first {} match); {context}",
        shown.len(),
        expected.len(),
        shown.len().min(expected.len()),
    );
}

/// Everything a receiver showed, once its sender is done with it: it is
/// killed, since a sender that exited 0 had every line acknowledged, and a
/// receiver acknowledges a line only after it wrote it.
fn everything_shown(receiver: &mut Udpchat) -> Vec<Vec<u8>> {
    receiver.kill();
    receiver.rest_of_stdout()
}

/// Waits for `sender` to exit, and returns its exit code and stderr. One
/// that has not exited after [`TIMEOUT`] is interrupted, so that its `-v`
/// summary says how far it got (status 130 then).
fn finish(sender: &mut Udpchat) -> (Option<i32>, String) {
    finish_within(sender, TIMEOUT)
}

/// Like [`finish`], waiting up to `bound`.
fn finish_within(sender: &mut Udpchat, bound: Duration) -> (Option<i32>, String) {
    if !sender.exited_within(bound) {
        #[cfg(unix)]
        sender.signal(nix::sys::signal::Signal::SIGINT);
        #[cfg(not(unix))]
        sender.kill();
    }
    sender.exit_code()
}

/// The reliable counts of a sender's `-v` summary: `N delivered, N resent,
/// N not delivered`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Delivery {
    delivered: u64,
    resent: u64,
    not_delivered: u64,
}

fn delivery(stderr: &str) -> Delivery {
    let line = stderr
        .lines()
        .rev()
        .find(|line| line.contains(" resent") && line.contains(" not delivered"))
        .unwrap_or_else(|| panic!("no delivery counts on stderr:\n{stderr}"));
    // The number just before `label` in the line's comma-separated parts.
    let count = |label: &str| -> u64 {
        line.split(", ")
            .find_map(|part| {
                let number = part.strip_suffix(label)?.split_whitespace().last()?;
                number.parse().ok()
            })
            .unwrap_or_else(|| panic!("no {label:?} in {line:?}"))
    };
    Delivery {
        delivered: count(" delivered"),
        resent: count(" resent"),
        not_delivered: count(" not delivered"),
    }
}

/// The stderr line naming the lines not delivered to `peer`, if any.
fn not_delivered_to<'a>(stderr: &'a str, peer: &str) -> Option<&'a str> {
    stderr
        .lines()
        .find(|line| line.contains(&format!(" lines not delivered to {peer} ")))
}

#[test]
fn every_line_piped_arrives_once_and_in_order() {
    let key = Key::new();
    let lines = numbered(2_000);
    let input = InputFile::new(&lines);
    let from = free_addr();
    let (mut receiver, to) = receiver(&key, "127.0.0.1:0", &from, &[]);
    let mut sender = sender(&key, &from, &[&to], &[], &input);
    let (code, stderr) = finish(&mut sender);
    assert_eq!(code, Some(0), "{stderr}");
    assert_once_in_order(&everything_shown(&mut receiver), &lines, &stderr);
    let counts = delivery(&stderr);
    assert_eq!((counts.delivered, counts.not_delivered), (2_000, 0), "{stderr}");
    assert_eq!(not_delivered_to(&stderr, &to), None, "{stderr}");
}

/// How long a transfer across a lossy link may take, at most. Usually a
/// second or two; but on a loaded machine the receiver's backlog makes the
/// measured round trip long (a full window is 1,024 lines), so the
/// retransmission timeout reaches its 2 s ceiling, and a line whose resend
/// is lost again waits for that timeout, or twice it: 10 s was seen, with
/// three busy processes on two cores.
const LOSSY: Duration = Duration::from_secs(3 * TIMEOUT.as_secs());

/// 2,000 lines piped from a reliable sender to a receiver through a relay
/// that mangles the datagrams each way as `forth` (lines) and `back`
/// (acknowledgements) say: every line must be shown once and in order, and
/// the sender exit 0. Returns what the relay did and the sender's counts.
fn through_a_relay(forth: Mangling, back: Mangling) -> (Carried, Delivery) {
    let key = Key::new();
    let lines = numbered(2_000);
    let input = InputFile::new(&lines);
    let mut relay = Relay::bind();
    let via = relay.addr().to_string();
    // Both chats see datagrams sent to the relay's address, not theirs.
    let reachable = ["--reachable-at", via.as_str()];
    let (mut receiver, to) = receiver(&key, "127.0.0.1:0", &via, &reachable);
    relay.run(to.parse().unwrap(), forth, back, Rng::from_env_or_clock());
    let mut sender = sender(&key, "127.0.0.1:0", &[&via], &reachable, &input);
    let (code, stderr) = finish_within(&mut sender, LOSSY);
    let carried = relay.finish();
    let shown = everything_shown(&mut receiver);
    let context = format!(
        "{carried:?}, {} lines shown\nsender's stderr:\n{stderr}\nreceiver's stderr:\n{}",
        shown.len(),
        receiver.stderr()
    );
    assert_eq!(code, Some(0), "{context}");
    assert_once_in_order(&shown, &lines, &context);
    let counts = delivery(&stderr);
    assert_eq!((counts.delivered, counts.not_delivered), (2_000, 0), "{context}");
    eprintln!("{carried:?}, {counts:?}");
    (carried, counts)
}

#[test]
fn duplicated_datagrams_are_shown_once() {
    let twice = Mangling {
        duplicate: 30,
        ..Mangling::NONE
    };
    let (carried, _) = through_a_relay(twice, twice);
    assert!(carried.forth.duplicated > 0, "{carried:?}");
}

#[test]
fn reordered_datagrams_are_shown_in_order() {
    let late = Mangling {
        hold_back: 30,
        ..Mangling::NONE
    };
    let (carried, _) = through_a_relay(late, late);
    assert!(carried.forth.held_back > 0, "{carried:?}");
}

#[test]
fn lost_duplicated_and_reordered_datagrams_all_arrive_once_in_order_and_the_resent_are_counted() {
    let everything = Mangling {
        drop: 10,
        duplicate: 10,
        hold_back: 10,
    };
    let (carried, counts) = through_a_relay(everything, everything);
    assert!(carried.forth.dropped > 0, "{carried:?}");
    assert!(counts.resent > 0, "{carried:?}, {counts:?}");
}

/// `nft -f -` run in `netns` with `rules`; false, through
/// [`common::skip_or_fail`], where nftables cannot be run.
#[cfg(target_os = "linux")]
fn nft(netns: &common::Netns, rules: &str) -> bool {
    use std::io::Write;
    use std::process::Stdio;
    let spawned = netns
        .command("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            common::skip_or_fail(format_args!("cannot run nft (nftables): {err}"));
            return false;
        }
    };
    child.stdin.take().unwrap().write_all(rules.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    if !output.status.success() {
        common::skip_or_fail(format_args!(
            "nft refused the rules: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    output.status.success()
}

#[test]
#[cfg(target_os = "linux")]
fn random_loss_on_a_link_is_repaired() {
    let Some((a, b)) = common::two_hosts(&[]) else {
        return;
    };
    // One datagram in ten to the receiver's port is dropped as it arrives,
    // chosen by the kernel's random numbers: real, unpredictable loss.
    let rules = "table inet udpchat_test {
        chain input {
            type filter hook input priority 0; policy accept;
            udp dport 2323 numgen random mod 10 == 0 counter drop
        }
    }";
    if !nft(&b, rules) {
        return;
    }
    let key = Key::new();
    let lines = numbered(5_000);
    let input = InputFile::new(&lines);
    let mut receiver = Udpchat::start_in(
        &b,
        &[
            "--recv-only",
            "--secret-file",
            key.file.path(),
            "-b",
            "10.99.1.2:2323",
            "10.99.1.1:2323",
        ],
    );
    receiver.bound_addr();
    let mut sender = Udpchat::start_in_with(
        &a,
        &[
            "--reliable",
            "--secret-file",
            key.file.path(),
            "-b",
            "10.99.1.1:2323",
            "10.99.1.2:2323",
        ],
        |command| {
            command.stdin(input.open());
        },
    );
    let (code, stderr) = finish_within(&mut sender, LOSSY);
    let listed = b.command("nft").args(["list", "ruleset"]).output().unwrap();
    let ruleset = String::from_utf8_lossy(&listed.stdout);
    let dropped: u64 = ruleset
        .split("packets ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter in the ruleset:\n{ruleset}"));
    let context = format!("{dropped} datagrams dropped by nftables; sender's stderr:\n{stderr}");
    assert_eq!(code, Some(0), "{context}");
    assert_once_in_order(&everything_shown(&mut receiver), &lines, &context);
    let counts = delivery(&stderr);
    eprintln!("{dropped} dropped, {counts:?}");
    assert_eq!((counts.delivered, counts.not_delivered), (5_000, 0), "{context}");
    assert!(dropped > 0, "{context}");
    assert!(counts.resent > 0, "{context}");
}

/// Writes `lines` into `stdin` from a thread, ten at a time; returns how
/// many it has written so far, and the thread.
#[cfg(target_os = "linux")]
fn feed(
    mut stdin: std::process::ChildStdin,
    lines: Vec<String>,
) -> (
    std::sync::Arc<std::sync::atomic::AtomicU64>,
    std::thread::JoinHandle<()>,
) {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    let fed = std::sync::Arc::new(AtomicU64::new(0));
    let counter = fed.clone();
    let feeder = std::thread::spawn(move || {
        for chunk in lines.chunks(10) {
            let text: String = chunk.iter().map(|line| format!("{line}\n")).collect();
            if stdin.write_all(text.as_bytes()).is_err() {
                return; // the sender is gone; the test says why
            }
            counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    });
    (fed, feeder)
}

/// Waits until `chat` has printed at least `lines` lines, failing the test after [`TIMEOUT`].
#[cfg(unix)]
fn wait_until_printed(chat: &Udpchat, lines: u64) {
    let deadline = Instant::now() + TIMEOUT;
    while chat.printed() < lines {
        assert!(
            Instant::now() < deadline,
            "{} lines printed after {TIMEOUT:?}, not {lines}; stderr:\n{}",
            chat.printed(),
            chat.stderr()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
#[cfg(target_os = "linux")]
fn a_stalled_receiver_makes_the_sender_wait_with_bounded_memory_then_gets_everything() {
    use nix::sys::signal::Signal;
    use std::sync::atomic::Ordering;
    let key = Key::new();
    // 100 bytes a line, so that the buffers between the feeder and the
    // sender hold far fewer lines than the input.
    let lines: Vec<String> = numbered(20_000)
        .into_iter()
        .map(|line| format!("{line} {}", "x".repeat(51)))
        .collect();
    let from = free_addr();
    let (mut receiver, to) = receiver(&key, "127.0.0.1:0", &from, &[]);
    let mut sender = Udpchat::start(&["--reliable", "--secret-file", key.file.path(), "-b", &from, &to]);
    let (fed, feeder) = feed(sender.take_stdin(), lines.clone());
    wait_until_printed(&receiver, 1_000);
    receiver.signal(Signal::SIGSTOP);
    // The stall itself: the sender must wait it out, not read on.
    std::thread::sleep(Duration::from_secs(3));
    let shown = receiver.printed();
    let read_ahead = fed.load(Ordering::Relaxed) - shown;
    let memory = sender.memory();
    receiver.signal(Signal::SIGCONT);
    // The stall backed the retransmission timer off, to 2 s at most.
    let (code, stderr) = finish_within(&mut sender, LOSSY);
    // Once the sender has exited, the feeder has written all or met a closed pipe.
    feeder.join().unwrap();
    let context = format!(
        "{shown} lines shown when stalled, {read_ahead} more fed, {memory:?}; sender's stderr:\n{stderr}"
    );
    eprintln!("{context}");
    assert_eq!(code, Some(0), "{context}");
    assert_once_in_order(&everything_shown(&mut receiver), &lines, &context);
    // At most 1,024 lines in flight, plus what the pipe (64 KiB, 655
    // lines) and the sender's input buffer (64 KiB) hold: far from all.
    assert!(read_ahead < 4_000, "{context}");
    assert!(memory.peak_kib < 64 * 1024, "{context}");
    assert_eq!(delivery(&stderr).not_delivered, 0, "{context}");
}

/// Fills the pipe that `output` writes to, without blocking, and returns
/// how many bytes that took: lines of dots, a page each. A page-sized write
/// takes a page of the pipe whole or nothing (PIPE_BUF), so once one is
/// refused the pipe is full to the last byte, and a later write blocks
/// until the pipe is read. `output` blocks again afterwards: the flag is
/// its open file's, which a child given it shares.
#[cfg(target_os = "linux")]
fn fill(output: &std::io::PipeWriter) -> usize {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    use std::io::Write;
    let flags = OFlag::from_bits_truncate(fcntl(output, FcntlArg::F_GETFL).unwrap());
    fcntl(output, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).unwrap();
    let mut page = [b'.'; 4096];
    page[4095] = b'\n';
    let mut filled = 0;
    loop {
        match (&*output).write(&page) {
            Ok(written) => {
                assert_eq!(written, page.len(), "a page-sized write to a pipe is whole");
                filled += written;
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(err) => panic!("fill a pipe: {err}"),
        }
    }
    fcntl(output, FcntlArg::F_SETFL(flags)).unwrap();
    filled
}

/// How many bytes of its stdin process `pid` has read: the offset of its
/// file descriptor 0, a regular file, as Linux's /proc tells.
#[cfg(target_os = "linux")]
fn stdin_offset(pid: u32) -> usize {
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/0")).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("pos:"))
        .and_then(|pos| pos.trim().parse().ok())
        .unwrap_or_else(|| panic!("no offset in /proc/{pid}/fdinfo/0:\n{info}"))
}

/// Flow control without a stopped process: the receiver runs, but its
/// output is a pipe nobody reads yet (a consumer busy elsewhere), full
/// before it starts. It cannot write a line, so it acknowledges none, and
/// the sender must stop at its window (1,024 lines in flight), having read
/// a bounded amount of its input; its progress line, at a terminal, says
/// that it waits. Once the pipe is read, every line arrives once and in
/// order. (Linux: /proc tells how far the sender read.)
#[test]
#[cfg(target_os = "linux")]
fn a_receiver_whose_output_is_not_read_holds_the_sender_back_then_gets_everything() {
    use common::{Pane, Tmux};
    use std::io::Read;
    let key = Key::new();
    let lines = numbered(20_000);
    // A file, not a pipe: its offset is exactly what the sender has read.
    let input = InputFile::new(&lines);
    let (mut screen, output) = std::io::pipe().unwrap();
    // Full from the start, so that the receiver's first write blocks: until
    // the test reads, no line is written, and none acknowledged, whatever
    // the timing.
    let filled = fill(&output);
    let sender_addr = free_addr();
    let (mut receiver, to) = receiver_with(&key, "127.0.0.1:0", &sender_addr, &[], |command| {
        command.stdout(output);
    });
    let args = [
        "--secret-file",
        key.file.path(),
        "--reliable",
        "-b",
        &sender_addr,
        &to,
    ];
    let before = format!("exec < {}", input.0.to_str().unwrap());
    // Wide enough that the progress line is one row, and its -v summary too.
    let pane = Pane {
        before: &before,
        stderr_on_screen: true,
        size: Some((200, 30)),
    };
    let Some(tmux) = Tmux::start_with(&args, &[], &pane) else {
        return;
    };
    // The sender says it waits, its window full: 1,024 lines pending, none
    // delivered. Nothing can be acknowledged until the test reads, so from
    // then on it reads no further.
    let waiting = tmux.wait_for("the progress line waiting", |screen| {
        screen.contains("waiting for the peer to acknowledge 1024 lines")
    });
    let read = stdin_offset(tmux.pid().as_raw().unsigned_abs());
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    let read_ahead = text.as_bytes()[..read]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count();
    let memory = tmux.memory();

    // Now the consumer reads, to the end (the receiver's exit closes it).
    let (tx, read_all) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = screen.read_to_end(&mut bytes);
        let _ = tx.send(bytes);
    });
    let code = tmux.exit_status().0;
    // A sender that exited 0 had every line acknowledged, so written.
    receiver.kill();
    let bytes = read_all
        .recv_timeout(TIMEOUT)
        .unwrap_or_else(|_| panic!("the receiver's output still open after {TIMEOUT:?}"));
    let (filler, shown) = bytes.split_at(filled.min(bytes.len()));
    assert!(filler.iter().all(|&byte| byte == b'.' || byte == b'\n'));
    let mut shown: Vec<Vec<u8>> = shown.split(|&byte| byte == b'\n').map(<[u8]>::to_vec).collect();
    if shown.last().is_some_and(Vec::is_empty) {
        shown.pop(); // after the last line's end
    }
    let context = format!(
        "{filled} bytes filled the pipe; {read_ahead} lines read while none was shown, \
         {memory:?}; {} lines shown at the end",
        shown.len()
    );
    eprintln!("{context}");
    let history = tmux.history_joined();
    let context = format!("{context}; the sender's screen, waiting:\n{waiting}\nat the end:\n{history}");
    assert_eq!(code, 0, "{context}");
    assert!(
        waiting.contains(", 0 delivered, waiting for the peer"),
        "{context}"
    );
    assert_once_in_order(&shown, &lines, &context);
    // It read what it sent, and at most what its input buffer holds more:
    // the same bound as for a stopped receiver.
    assert!(read_ahead >= 1_024, "{context}");
    assert!(read_ahead < 4_000, "{context}");
    assert!(memory.peak_kib < 64 * 1024, "{context}");
    let counts = delivery(&history);
    assert_eq!((counts.delivered, counts.not_delivered), (20_000, 0), "{context}");
}

#[test]
fn an_absent_peer_is_given_up_and_its_lines_named_not_delivered() {
    let key = Key::new();
    // A bound socket that never answers: no acknowledgement, and no ICMP
    // "port unreachable" either.
    let silent = loopback_socket();
    let away = silent.local_addr().unwrap().to_string();
    let input = InputFile::new(&numbered(10));
    let started = Instant::now();
    let mut sender = sender(&key, "127.0.0.1:0", &[&away], &["--give-up", "1s"], &input);
    let (code, stderr) = finish(&mut sender);
    let took = started.elapsed();
    assert_eq!(code, Some(1), "{stderr}");
    let told = not_delivered_to(&stderr, &away).unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        told.contains(&format!("10 of 10 lines not delivered to {away} (lines 1-10)")),
        "{stderr}"
    );
    assert!(stderr.contains("no acknowledgement for 1s"), "{stderr}");
    assert!(took >= Duration::from_secs(1), "gave up after {took:?}: {stderr}");
    assert!(took < Duration::from_secs(5), "gave up after {took:?}: {stderr}");
    assert_eq!(delivery(&stderr).not_delivered, 10, "{stderr}");

    // Every line was tried, and tried again, but backing off: one try
    // every 30 ms (the floor) for a second would be 30 or more each.
    silent.set_nonblocking(true).unwrap();
    let mut buffer = [0; 2048];
    let (mut tries, mut numbers) = (0, BTreeSet::new());
    while let Ok(len) = silent.recv(&mut buffer) {
        if buffer[sealing::AT_KIND] == sealing::RELIABLE_LINE {
            tries += 1;
            numbers.insert(sealing::sequence_of(&buffer[..len]));
        }
    }
    assert_eq!(numbers, (0..10).collect(), "{tries} tries");
    assert!((10..=80).contains(&tries), "{tries} tries");
}

#[test]
fn an_end_of_input_no_peer_acknowledged_is_a_failure_too() {
    let key = Key::new();
    let silent = loopback_socket();
    let away = silent.local_addr().unwrap().to_string();
    let input = InputFile::new(&[]);
    let mut sender = sender(&key, "127.0.0.1:0", &[&away], &["--give-up", "1s"], &input);
    let (code, stderr) = finish(&mut sender);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{away} did not acknowledge the end of input")),
        "{stderr}"
    );
    let mut buffer = [0; 2048];
    let len = silent.recv(&mut buffer).unwrap();
    assert_eq!(buffer[sealing::AT_KIND], sealing::RELIABLE_END);
    assert_eq!(sealing::sequence_of(&buffer[..len]), 0);
}

/// A library chat that sends reliably to a library chat that receives, and
/// to a socket that never answers: its `Summary` says what each acknowledged.
#[test]
fn a_library_chat_reports_what_each_peer_acknowledged() {
    use std::io::{BufRead, BufReader};
    use udpchat::{Chat, Config, Reliable, Secret};
    let key = Key::new();
    let secret = || Some(Secret::from_file(&key.file.0).unwrap());
    let lines = numbered(200);
    let sender_addr: SocketAddr = free_addr().parse().unwrap();
    let mut config = Config::peers(vec![sender_addr], "127.0.0.1:0".parse().unwrap());
    config.secret = secret();
    config.recv_only = true;
    let receiver = Chat::bind(config).unwrap();
    let receiver_addr = receiver.local_addr();
    let stop = receiver.shutdown_handle();
    let (screen, output) = std::io::pipe().unwrap();
    let receiving = std::thread::spawn(move || receiver.run(std::io::empty(), output));
    // Read as it comes: a full pipe (4 KiB under Wine) would block the
    // receiver, which then acknowledges nothing, and rightly so.
    let count = lines.len();
    let reading = std::thread::spawn(move || -> Vec<Vec<u8>> {
        BufReader::new(screen)
            .lines()
            .take(count)
            .map(|line| line.unwrap().into_bytes())
            .collect()
    });

    let silent = loopback_socket();
    let silent_addr = silent.local_addr().unwrap();
    let mut config = Config::peers(vec![receiver_addr, silent_addr], sender_addr);
    config.secret = secret();
    config.reliable = Some(Reliable::new().giving_up_after(Duration::from_secs(1)));
    let sender = Chat::bind(config).unwrap();
    // The live counts a progress bar reads while the chat runs.
    let progress = sender.progress();
    let input: String = lines.iter().map(|line| format!("{line}\n")).collect();
    let summary = sender.run(std::io::Cursor::new(input), std::io::sink()).unwrap();

    // The sender is done: whatever the receiver showed is in the pipe.
    stop.interrupt();
    let shown = reading.join().unwrap();
    receiving.join().unwrap().unwrap();
    assert_once_in_order(&shown, &lines, "the library receiver");
    let delivery = summary.delivery.expect("a reliable chat's delivery");
    let [received, away] = &delivery.peers[..] else {
        panic!("two peers: {delivery:?}");
    };
    assert_eq!(received.peer, receiver_addr);
    assert_eq!(received.lines_delivered, 200, "{delivery:?}");
    assert!(received.not_delivered.is_empty(), "{delivery:?}");
    assert!(received.end_acknowledged, "{delivery:?}");
    assert_eq!(away.peer, silent_addr);
    assert_eq!(away.lines_delivered, 0, "{delivery:?}");
    assert_eq!(away.not_delivered, vec![1..=200], "{delivery:?}");
    assert!(!away.end_acknowledged, "{delivery:?}");
    assert_eq!(
        (delivery.lines_delivered(), delivery.lines_not_delivered()),
        (200, 200)
    );
    assert_eq!(delivery.acks_refused, 0);
    assert!(!delivery.complete());
    // Once the chat has ended, the live counts are the summary's, added
    // over the peers: a progress bar ends on what the summary says. Nothing
    // is left pending (each line was acknowledged or given up) and the
    // sender no longer waits.
    let live = (
        progress.lines_delivered(),
        progress.lines_resent(),
        progress.lines_not_delivered(),
    );
    let summed = (
        delivery.lines_delivered(),
        delivery.lines_resent(),
        delivery.lines_not_delivered(),
    );
    assert_eq!(
        live, summed,
        "live (delivered, resent, not delivered); {delivery:?}"
    );
    // Resent is not 0 == 0: the absent peer's lines were tried again when
    // the first timer fired (200 ms), long before it was given up (1 s).
    assert!(away.lines_resent > 0, "{delivery:?}");
    assert_eq!(progress.lines_pending(), 0, "{delivery:?}");
    assert!(!progress.waiting_for_peer());
}

// Not on Windows: there (under Wine at least) a killed process's port
// stays bound for seconds, so the second receiver cannot take it.
#[test]
#[cfg(unix)]
fn a_restarted_receiver_gets_every_line_the_first_one_did_not_show() {
    let key = Key::new();
    const LINES: u64 = 3_000;
    let lines = numbered(LINES);
    let input = InputFile::new(&lines);
    let (from, to) = (free_addr(), free_addr());
    let (mut first, _) = receiver(&key, &to, &from, &[]);
    // Paced, so that the first receiver is killed in the middle of it.
    let mut sender = sender(&key, &from, &[&to], &["--rate", "3000"], &input);
    wait_until_printed(&first, 1_000);
    first.kill();
    let first_shown = first.rest_of_stdout();
    let (mut second, _) = receiver(&key, &to, &from, &[]);
    // The first's death backed the retransmission timer off, to 2 s at most.
    let (code, stderr) = finish_within(&mut sender, LOSSY);
    let second_shown = everything_shown(&mut second);
    let context = format!(
        "the first showed {}, the second {}; sender's stderr:\n{stderr}",
        first_shown.len(),
        second_shown.len()
    );
    assert_eq!(code, Some(0), "{context}");
    assert_once_in_order(&first_shown, &lines[..first_shown.len()], &context);
    assert!(first_shown.len() < lines.len(), "{context}");
    // The second starts where the sender's `base` was when it first heard
    // from it: every line after those the sender knew shown. Lines the
    // first showed but whose acknowledgement it never sent, or that was
    // still on its way when it was killed, are shown by both: a duplicate
    // across the restart, which the sender cannot tell from a loss.
    let starts_at = lines.len() - second_shown.len();
    assert!(starts_at <= first_shown.len(), "a gap; {context}");
    assert_once_in_order(&second_shown, &lines[starts_at..], &context);
    // The sender's count stays exact across the restart: each line counts
    // delivered once, whichever receiver acknowledged it, and never twice.
    let counts = delivery(&stderr);
    assert_eq!((counts.delivered, counts.not_delivered), (LINES, 0), "{context}");
    // A line both showed reached two sockets, so it was sent twice at
    // least: once more than its first send, which is not counted resent.
    // (How many more depends on timing: the first's death loses a burst,
    // retried as the timer backs off.)
    let shown_twice = (first_shown.len() - starts_at) as u64;
    assert!(
        counts.resent >= shown_twice,
        "{shown_twice} lines shown twice, {counts:?}; {context}"
    );
    eprintln!(
        "the first receiver showed {}, the second {}: {shown_twice} shown twice across the restart; {counts:?}",
        first_shown.len(),
        second_shown.len(),
    );
}

#[test]
fn acknowledgements_of_lines_never_sent_or_from_another_address_are_not_believed() {
    let key = Key::new();
    // The test's socket is the sender's only peer: what it acknowledges
    // truly, and only that, counts.
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let input = InputFile::new(&numbered(10));
    let mut sender = sender(&key, "127.0.0.1:0", &[&peer_addr], &["--give-up", "1s"], &input);
    let (mut numbers, mut first) = (BTreeSet::new(), None);
    for _ in 0..1_000 {
        let (datagram, from) = recv(&peer);
        if datagram[sealing::AT_KIND] == sealing::RELIABLE_LINE {
            numbers.insert(sealing::sequence_of(&datagram));
            first.get_or_insert((sealing::session_of(&datagram), from));
        }
        if numbers.len() == 10 {
            break;
        }
    }
    let (session, chat) = first.expect("lines from the sender");
    let me = now_ms() ^ unique_number().rotate_left(40);
    let started = now_ms() - 1_000;

    // A stranger on the peer's host, another port: the acknowledgement is
    // perfect, but the sender never sent it anything.
    let stranger = loopback_socket();
    let everything = ack_body(session, 10, true, &[]);
    stranger
        .send_to(&key.ack(me, started, 0, chat, &everything), chat)
        .unwrap();

    let acks = [
        // The truth: lines 0 to 4 were written (input lines 1 to 5).
        ack_body(session, 5, false, &[]),
        // Lines never sent, far beyond the window.
        ack_body(session, 1_000_000, true, &[]),
        ack_body(session, u64::MAX, true, &[]),
        // Held lines beyond those sent.
        ack_body(session, 5, false, &[(6, 1_000_000)]),
        ack_body(session, 5, false, &[(20, 30)]),
    ];
    for (sequence, body) in (1..).zip(&acks) {
        peer.send_to(&key.ack(me, started, sequence, chat, body), chat)
            .unwrap();
    }
    let (code, stderr) = finish(&mut sender);
    assert_eq!(code, Some(1), "{stderr}");
    let told = not_delivered_to(&stderr, &peer_addr).unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        told.contains(&format!(
            "5 of 10 lines not delivered to {peer_addr} (lines 6-10)"
        )),
        "{stderr}"
    );
    let counts = delivery(&stderr);
    assert_eq!((counts.delivered, counts.not_delivered), (5, 5), "{stderr}");
    // Each is refused, and counted in the -v summary; the first is told.
    assert!(stderr.contains(", 5 acknowledgements refused"), "{stderr}");
    let stranger = stranger.local_addr().unwrap();
    assert!(
        stderr.contains(&format!(
            "warning: refused an acknowledgement from {stranger}: it is not a peer, or it acknowledges lines never sent"
        )),
        "{stderr}"
    );
}

/// The sender's side, on the wire: a file piped in is at hand all at once,
/// so only its last line asks for its acknowledgement at once (the
/// ACK_NOW flag): a receiver may wait to acknowledge the others together.
/// A line resent asks too, for no later line is sure to follow it.
#[test]
fn a_sender_asks_for_an_acknowledgement_at_once_where_its_input_pauses_and_when_it_resends() {
    let key = Key::new();
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let input = InputFile::new(&numbered(100));
    let mut sender = sender(&key, "127.0.0.1:0", &[&peer_addr], &["--give-up", "1s"], &input);
    let mut first_flags = std::collections::BTreeMap::new();
    let mut resent_flags = Vec::new();
    for _ in 0..10_000 {
        let (datagram, _) = recv(&peer);
        if datagram[sealing::AT_KIND] != sealing::RELIABLE_LINE {
            continue;
        }
        let flagged = datagram[sealing::AT_FLAGS] & sealing::ACK_NOW != 0;
        match first_flags.entry(sealing::sequence_of(&datagram)) {
            std::collections::btree_map::Entry::Vacant(first) => {
                first.insert(flagged);
            }
            std::collections::btree_map::Entry::Occupied(_) => resent_flags.push(flagged),
        }
        if first_flags.len() == 100 && resent_flags.len() >= 2 {
            break;
        }
    }
    let flagged: Vec<u64> = first_flags
        .iter()
        .filter(|(_, flagged)| **flagged)
        .map(|(number, _)| *number)
        .collect();
    assert_eq!(flagged, [99], "only the last line of the input asks at once");
    assert!(resent_flags.iter().all(|&flagged| flagged), "{resent_flags:?}");
    let (code, stderr) = finish(&mut sender);
    assert_eq!(code, Some(1), "nothing was acknowledged: {stderr}");
}

/// Waits until every thread of process `pid` is stopped (SIGSTOP taken),
/// as Linux's /proc tells.
#[cfg(target_os = "linux")]
fn wait_until_stopped(pid: u32) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let state = stat.rsplit(") ").next().and_then(|rest| rest.chars().next());
        if state == Some('T') {
            return;
        }
        assert!(Instant::now() < deadline, "{pid} not stopped: {stat}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The receiver's side, on the wire: the test's socket sends sealed
/// reliable datagrams as a sender would, and reads each acknowledgement.
/// Lines in order without the ACK_NOW flag are acknowledged together: 64
/// of them, queued while the receiver is stopped and written in two
/// chunks (its output's is 64 KiB), get one acknowledgement, after the
/// second. A line alone gets its own once the socket is quiet. Anything
/// else is acknowledged at once, also a datagram that shows nothing: a
/// flagged line, a resend (its sender missed the acknowledgement), a line
/// held behind a gap, the line that fills the gap, the end of input, and
/// the end again. (Linux: the receiver is stopped, and /proc tells when.)
#[test]
#[cfg(target_os = "linux")]
fn a_receiver_acknowledges_lines_in_order_together_and_anything_else_at_once() {
    use nix::sys::signal::Signal;
    use sealing::{Ack, read_ack};
    let key = Key::new();
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let (mut receiver, to) = receiver(&key, "127.0.0.1:0", &peer_addr, &[]);
    let to: SocketAddr = to.parse().unwrap();
    let (session, started) = (now_ms() ^ unique_number().rotate_left(40), now_ms() - 1_000);
    let mut acks = 0;
    let mut expect_ack = |next: u64, end_taken: bool, ranges: Vec<(u64, u64)>, after: &str| {
        let mut buffer = vec![0; 2048];
        let (len, from) = loop {
            match peer.recv_from(&mut buffer) {
                Ok(got) => break got,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => panic!("no acknowledgement after {after} within {TIMEOUT:?}: {err}"),
            }
        };
        let datagram = &buffer[..len];
        assert_eq!(from, to, "after {after}");
        assert_eq!(datagram[sealing::AT_KIND], sealing::ACK, "after {after}");
        assert_eq!(sealing::sequence_of(datagram), acks, "after {after}");
        acks += 1;
        let body = key.open(datagram).expect("sealed with the key");
        let ack = read_ack(&body).unwrap_or_else(|| panic!("after {after}: {body:?}"));
        let expected = Ack {
            acked: session,
            next,
            end_taken,
            ranges,
        };
        assert_eq!(ack, expected, "after {after}");
    };
    let line = |sequence: u64, text: &str, ack_now: bool| {
        key.reliable_line(session, started, sequence, 0, to, text, ack_now)
    };

    let long = "x".repeat(1_200);
    receiver.signal(Signal::SIGSTOP);
    wait_until_stopped(receiver.pid());
    for sequence in 0..64 {
        peer.send_to(&line(sequence, &format!("{sequence} {long}"), false), to)
            .unwrap();
    }
    receiver.signal(Signal::SIGCONT);
    expect_ack(64, false, vec![], "64 lines in order");
    for sequence in 0..64 {
        assert_eq!(receiver.text_line(), format!("{sequence} {long}"));
    }
    peer.send_to(&line(64, "alone", false), to).unwrap();
    expect_ack(65, false, vec![], "a line alone, then nothing");
    assert_eq!(receiver.text_line(), "alone");
    peer.send_to(&line(65, "flagged", true), to).unwrap();
    expect_ack(66, false, vec![], "a flagged line");
    assert_eq!(receiver.text_line(), "flagged");
    peer.send_to(&line(65, "flagged", true), to).unwrap();
    expect_ack(66, false, vec![], "line 65 resent");
    peer.send_to(&line(67, "third", false), to).unwrap();
    expect_ack(66, false, vec![(67, 68)], "line 67, held");
    peer.send_to(&line(66, "second", false), to).unwrap();
    expect_ack(68, false, vec![], "line 66");
    assert_eq!(receiver.text_line(), "second");
    assert_eq!(receiver.text_line(), "third");
    let end = key.reliable_end(session, started, 68, 0, to);
    peer.send_to(&end, to).unwrap();
    expect_ack(68, true, vec![], "the end");
    peer.send_to(&end, to).unwrap();
    expect_ack(68, true, vec![], "the end again");
    // Nothing was shown twice.
    receiver.kill();
    assert_eq!(receiver.rest_of_stdout(), Vec::<Vec<u8>>::new());
}

/// Checks that udpchat `args` is a usage error (status 2) told in one line
/// that contains `says` (clap adds its usage and a pointer to --help).
#[track_caller]
fn usage_error(args: &[&str], says: &str) {
    let (code, stderr) = common::run(args);
    assert_eq!(code, Some(2), "udpchat {args:?}: {stderr}");
    let told: Vec<&str> = stderr
        .lines()
        .filter(|line| {
            !line.is_empty() && !line.starts_with("Usage: ") && !line.starts_with("For more information")
        })
        .collect();
    assert_eq!(told.len(), 1, "udpchat {args:?}: {stderr}");
    assert!(told[0].contains(says), "udpchat {args:?}: {stderr}");
}

#[test]
fn reliable_needs_a_secret_and_peers_not_a_room() {
    usage_error(
        &["--reliable", "-b", "127.0.0.1:0", "127.0.0.1:9"],
        "--reliable needs a secret",
    );
    let key = Key::new();
    let secret = key.file.path();
    usage_error(
        &["--reliable", "--secret-file", secret, "--broadcast", "2323"],
        "--reliable",
    );
    usage_error(
        &[
            "--reliable",
            "--secret-file",
            secret,
            "--group",
            "239.255.23.23:2323",
        ],
        "--reliable",
    );
    usage_error(
        &[
            "--reliable",
            "--give-up",
            "50ms",
            "--secret-file",
            secret,
            "-b",
            "127.0.0.1:0",
            "127.0.0.1:9",
        ],
        "at least 100ms",
    );
    // Without --reliable there is nothing to give up: clap says what is
    // missing, on a line of its own.
    let (code, stderr) = common::run(&[
        "--give-up",
        "1s",
        "--secret-file",
        secret,
        "-b",
        "127.0.0.1:0",
        "127.0.0.1:9",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--reliable"), "{stderr}");
}

/// Each thread of each process in `pids`, with its count of context
/// switches, voluntary and not: a thread that never wakes never switches.
#[cfg(target_os = "linux")]
fn switches(pids: &[u32]) -> std::collections::BTreeMap<String, u64> {
    let mut counts = std::collections::BTreeMap::new();
    for pid in pids {
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
            let task = task.unwrap().path();
            let Ok(status) = std::fs::read_to_string(task.join("status")) else {
                continue; // a thread that ended meanwhile
            };
            let switched: u64 = status
                .lines()
                .filter(|line| line.contains("ctxt_switches:"))
                .map(|line| line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap())
                .sum();
            counts.insert(task.display().to_string(), switched);
        }
    }
    counts
}

#[test]
#[cfg(target_os = "linux")]
fn an_idle_reliable_chat_makes_no_wakeups() {
    let key = Key::new();
    let from = free_addr();
    let (receiver, to) = receiver(&key, "127.0.0.1:0", &from, &[]);
    let mut sender = Udpchat::start(&["--reliable", "--secret-file", key.file.path(), "-b", &from, &to]);
    sender.send("the only line\n");
    assert_eq!(receiver.text_line(), "the only line");
    let pids = [sender.pid(), receiver.pid()];
    // Settled: the acknowledgement is in, once neither has switched for
    // half a second (a timer that never stops never lets this happen, or
    // shows below).
    let deadline = Instant::now() + TIMEOUT;
    let (mut last, mut since) = (switches(&pids), Instant::now());
    while since.elapsed() < Duration::from_millis(500) {
        assert!(Instant::now() < deadline, "never idle: {last:?}");
        std::thread::sleep(Duration::from_millis(50));
        let now = switches(&pids);
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
    // Longer than the longest retransmission timeout (2 s).
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(switches(&pids), last, "woke while idle");
    sender.close_stdin();
    let (code, stderr) = finish(&mut sender);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(delivery(&stderr).delivered, 1, "{stderr}");
}

#[test]
fn every_peer_gets_every_line() {
    let key = Key::new();
    let lines = numbered(2_000);
    let input = InputFile::new(&lines);
    let from = free_addr();
    let (mut one, one_addr) = receiver(&key, "127.0.0.1:0", &from, &[]);
    let (mut two, two_addr) = receiver(&key, "127.0.0.1:0", &from, &[]);
    let mut sender = sender(&key, &from, &[&one_addr, &two_addr], &[], &input);
    let (code, stderr) = finish(&mut sender);
    assert_eq!(code, Some(0), "{stderr}");
    assert_once_in_order(&everything_shown(&mut one), &lines, &stderr);
    assert_once_in_order(&everything_shown(&mut two), &lines, &stderr);
    assert_eq!(delivery(&stderr).not_delivered, 0, "{stderr}");
    assert!(!stderr.contains("lines not delivered"), "{stderr}");
}

#[test]
fn of_two_peers_only_the_absent_ones_lines_are_named_not_delivered() {
    let key = Key::new();
    let lines = numbered(200);
    let input = InputFile::new(&lines);
    let from = free_addr();
    let (mut present, present_addr) = receiver(&key, "127.0.0.1:0", &from, &[]);
    let silent: UdpSocket = loopback_socket();
    let away = silent.local_addr().unwrap().to_string();
    let mut sender = sender(&key, &from, &[&present_addr, &away], &["--give-up", "1s"], &input);
    let (code, stderr) = finish(&mut sender);
    assert_eq!(code, Some(1), "{stderr}");
    assert_once_in_order(&everything_shown(&mut present), &lines, &stderr);
    let told = not_delivered_to(&stderr, &away).unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        told.contains(&format!("200 of 200 lines not delivered to {away} (lines 1-200)")),
        "{stderr}"
    );
    assert_eq!(not_delivered_to(&stderr, &present_addr), None, "{stderr}");
    assert_eq!(delivery(&stderr).not_delivered, 200, "{stderr}");
}

/// At a terminal a typed line that waits is told pending, and NOT DELIVERED
/// when the sender gives up, on the screen even with stderr sent elsewhere
/// and every log level off (no stderr to read); meanwhile lines flow both
/// ways; the next line gives the peer a fresh chance, and its
/// acknowledgement is told.
#[test]
#[cfg(unix)]
fn at_a_terminal_a_waiting_line_is_told_pending_then_not_delivered_and_the_next_one_delivered() {
    use common::Tmux;
    let key = Key::new();
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap();
    let chat_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (bind, to) = (chat_addr.to_string(), peer_addr.to_string());
    // Long enough for the steps between the pending notice (at 1 s) and the
    // give-up, however slow the machine.
    let args = [
        "--secret-file",
        key.file.path(),
        "--reliable",
        "--give-up",
        "6s",
        "-b",
        &bind,
        &to,
    ];
    // stderr goes to a file, and RUST_LOG=off silences every log line there.
    let Some(tmux) = Tmux::start(&args, &[("RUST_LOG", "off")]) else {
        return;
    };
    tmux.wait_for("the prompt", |screen| {
        screen.contains(&format!("to {to} (secured)>"))
    });
    tmux.type_text("first words");
    tmux.press(&["Enter"]);
    // The peer takes the line and says nothing.
    let (first, _) = recv(&peer);
    assert_eq!(first[sealing::AT_KIND], sealing::RELIABLE_LINE);
    let session = sealing::session_of(&first);
    tmux.wait_for("the pending notice", |screen| {
        screen.contains(&format!("not acknowledged yet by {to}: \"first words\" (pending"))
    });
    // Lines flow both ways while it waits: the peer's line is shown, and a
    // line typed now is sent.
    peer.send_to(
        &key.line(unique_number(), now_ms(), 0, chat_addr, "the peer talks"),
        chat_addr,
    )
    .unwrap();
    tmux.wait_for("the peer's line", |screen| screen.contains("the peer talks"));
    tmux.type_text("meanwhile");
    tmux.press(&["Enter"]);
    let meanwhile = next_line_numbered(&peer, 1);
    assert_eq!(key.open(&meanwhile).unwrap()[2..], *b"meanwhile");
    tmux.wait_for("the notice that neither line was delivered", |screen| {
        screen.contains(&format!("NOT DELIVERED to {to}: 2 lines (lines 1-2)"))
            && screen.contains("\"first words\", \"meanwhile\"")
    });
    // The next line is sent to the peer given up all the same.
    tmux.type_text("second try");
    tmux.press(&["Enter"]);
    next_line_numbered(&peer, 2);
    tmux.wait_for("the second line pending", |screen| {
        screen.contains("\"second try\" (pending")
    });
    let body = ack_body(session, 3, false, &[]);
    peer.send_to(
        &key.ack(unique_number(), now_ms(), 0, chat_addr, &body),
        chat_addr,
    )
    .unwrap();
    tmux.wait_for("the notice that it was delivered", |screen| {
        screen.contains(&format!("{to} acknowledged every line: delivered"))
    });
    tmux.press(&["C-c"]);
    assert_eq!(tmux.exit_status().0, 130);
    // Nothing reached the log file: the notices were the screen's alone.
    assert!(!tmux.stderr().contains("pending"), "{}", tmux.stderr());
}

/// The first datagram `peer` receives that carries line `number` (resends
/// of earlier lines are passed over).
#[cfg(unix)]
fn next_line_numbered(peer: &UdpSocket, number: u64) -> Vec<u8> {
    loop {
        let (datagram, _) = recv(peer);
        if sealing::sequence_of(&datagram) == number {
            return datagram;
        }
    }
}

/// Piped input with stderr at a terminal: while the receiver is stopped the
/// progress line says the sender waits for it; continued, every line
/// arrives and the sender exits 0.
#[test]
#[cfg(target_os = "linux")]
fn the_progress_line_says_when_the_sender_waits_for_a_stopped_peer() {
    use common::{Pane, Tmux};
    use nix::sys::signal::Signal;
    let key = Key::new();
    let sender_port = free_port();
    let (receiver, bound) = receiver(&key, "127.0.0.1:0", &format!("127.0.0.1:{sender_port}"), &[]);
    receiver.signal(Signal::SIGSTOP);
    // Stopped before the sender starts: it acknowledges nothing at all.
    wait_until_stopped(receiver.pid());
    let input = InputFile::new(&numbered(20_000));
    let bind = format!("127.0.0.1:{sender_port}");
    let args = [
        "--secret-file",
        key.file.path(),
        "--reliable",
        "-b",
        &bind,
        &bound,
    ];
    let before = format!("exec < {}", input.0.to_str().unwrap());
    // Wide enough that the progress line is one row: at 100 columns it
    // wraps, and a long count or rate would cut the text waited for.
    let pane = Pane {
        before: &before,
        stderr_on_screen: true,
        size: Some((200, 30)),
    };
    let Some(tmux) = Tmux::start_with(&args, &[], &pane) else {
        receiver.signal(Signal::SIGCONT);
        return;
    };
    let waiting = tmux.wait_for("the progress line waiting", |screen| {
        screen.contains("waiting for the peer to acknowledge 1024 lines")
    });
    assert!(
        !waiting.contains(" left"),
        "no time left while it waits:\n{waiting}"
    );
    // The line counts the lines delivered too, none here: the message
    // with them is set as the input is read (every 16 KiB), and the
    // sender read 46 KiB before its window of 1,024 lines was full.
    assert!(
        waiting.contains(", 0 delivered, waiting for the peer to acknowledge 1024 lines"),
        "the delivered count on the progress line:\n{waiting}"
    );
    receiver.signal(Signal::SIGCONT);
    assert_eq!(tmux.exit_status().0, 0, "{}", tmux.screen());
    let mut received = 0;
    while received < 20_000 {
        receiver.line();
        received += 1;
    }
}
