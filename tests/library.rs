//! Rust code runs two endpoints as threads on loopback through the library API.

mod common;

use std::io::{self, BufRead, BufReader, Cursor, PipeReader, PipeWriter, Write};
use std::net::{SocketAddr, UdpSocket};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::{TIMEOUT, loopback_socket, recv};
use udpchat::{Chat, Config, Ended, Error, Summary};

const LOOPBACK: &str = "127.0.0.1:0";

/// An endpoint on a loopback port the system picks, peer still to be set.
fn endpoint(tweak: impl FnOnce(&mut Config)) -> Chat {
    let loopback: SocketAddr = LOOPBACK.parse().unwrap();
    let mut config = Config::peers(vec![loopback], loopback);
    tweak(&mut config);
    Chat::bind(config).expect("bind on loopback")
}

/// A test socket on loopback, and an endpoint (set up by `tweak`) chatting with it.
fn endpoint_with_peer(tweak: impl FnOnce(&mut Config)) -> (UdpSocket, Chat) {
    let peer = loopback_socket();
    let mut chat = endpoint(tweak);
    chat.set_peer(peer.local_addr().unwrap()).unwrap();
    (peer, chat)
}

/// A running endpoint: its input is a pipe we write to, its output a pipe we read lines from.
struct Running {
    input: Option<PipeWriter>,
    output: BufReader<PipeReader>,
    stop: udpchat::ShutdownHandle,
    thread: JoinHandle<Result<Summary, Error>>,
}

impl Running {
    fn start(chat: Chat) -> Running {
        let (input_reader, input) = io::pipe().unwrap();
        let (output, output_writer) = io::pipe().unwrap();
        let stop = chat.shutdown_handle();
        let thread = thread::spawn(move || chat.run(BufReader::new(input_reader), output_writer));
        Running {
            input: Some(input),
            output: BufReader::new(output),
            stop,
            thread,
        }
    }

    fn say(&mut self, line: &str) {
        writeln!(self.input.as_mut().unwrap(), "{line}").unwrap();
    }

    /// The next printed line. Pipes cannot time out, so the test harness's
    /// own watchdog ([`with_timeout`]) bounds this.
    fn heard(&mut self) -> String {
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        line.strip_suffix('\n').expect("a whole line").to_owned()
    }

    fn finish(self) -> Summary {
        drop(self.input);
        self.thread.join().unwrap().unwrap()
    }
}

/// Runs `test` on a thread and fails if it takes longer than [`TIMEOUT`].
fn with_timeout(test: impl FnOnce() + Send + 'static) {
    let (done, finished) = crossbeam_channel::bounded(1);
    let worker = thread::spawn(move || {
        test();
        let _ = done.send(());
    });
    match finished.recv_timeout(TIMEOUT) {
        Ok(()) => worker.join().unwrap(),
        Err(_) if worker.is_finished() => worker.join().unwrap(), // it panicked: show why
        Err(_) => panic!("test did not finish within {TIMEOUT:?}"),
    }
}

fn pair() -> (Chat, Chat) {
    let mut a = endpoint(|_| {});
    let mut b = endpoint(|_| {});
    a.set_peer(b.local_addr()).unwrap();
    b.set_peer(a.local_addr()).unwrap();
    (a, b)
}

#[test]
fn two_endpoints_talk_in_both_directions_at_once() {
    with_timeout(|| {
        let (a, b) = pair();
        let (mut a, mut b) = (Running::start(a), Running::start(b));
        // Both speak before either listens: nobody waits for a turn.
        for i in 0..100 {
            a.say(&format!("a{i}"));
            b.say(&format!("b{i}"));
        }
        for i in 0..100 {
            assert_eq!(b.heard(), format!("a{i}"));
            assert_eq!(a.heard(), format!("b{i}"));
        }
        a.stop.interrupt();
        b.stop.interrupt();
        let (a, b) = (a.finish(), b.finish());
        assert_eq!(
            (a.ended, a.lines_sent, a.datagrams_received),
            (Ended::Interrupted, 100, 100)
        );
        assert_eq!(
            (b.ended, b.lines_sent, b.datagrams_received),
            (Ended::Interrupted, 100, 100)
        );
    });
}

#[test]
fn end_of_input_returns_after_every_line_is_sent() {
    let (peer, chat) = endpoint_with_peer(|_| {});
    let input = Cursor::new(b"one\r\n\ntwo\nno newline".to_vec());
    let summary = chat.run(input, io::sink()).unwrap();
    // Every field, one by one: a Summary is made only by a chat.
    let Summary {
        ended,
        lines_sent,
        lines_not_sent,
        datagrams_received,
        datagrams_ignored,
        datagrams_dropped,
        datagrams_refused,
        secured,
        ..
    } = summary;
    assert_eq!(ended, Ended::EndOfInput);
    assert_eq!(lines_sent, 4);
    assert_eq!(lines_not_sent, 0);
    assert_eq!(datagrams_received, 0);
    assert_eq!(datagrams_ignored, 0);
    // Counted where the kernel reports drops; none on an idle loopback.
    assert_eq!(datagrams_dropped, cfg!(target_os = "linux").then_some(0));
    assert_eq!(datagrams_refused, 0);
    assert_eq!(secured, None);
    for expected in [&b"one"[..], b"", b"two", b"no newline"] {
        assert_eq!(recv(&peer).0, expected);
    }
}

#[test]
fn sends_bytes_that_are_not_utf8_unchanged_and_prints_them_lossily() {
    with_timeout(|| {
        let (peer, chat) = endpoint_with_peer(|_| {});
        let mut running = Running::start(chat);
        running
            .input
            .as_mut()
            .unwrap()
            .write_all(b"caf\xe9 \xff\n")
            .unwrap();
        let (bytes, chat_addr) = recv(&peer);
        assert_eq!(bytes, b"caf\xe9 \xff");
        peer.send_to(b"na\xefve", chat_addr).unwrap();
        assert_eq!(running.heard(), "na\u{fffd}ve");
        running.stop.interrupt();
        running.finish();
    });
}

#[test]
fn prints_datagrams_from_nc_and_socat_without_an_extra_blank_line() {
    with_timeout(|| {
        let (peer, chat) = endpoint_with_peer(|_| {});
        let to = chat.local_addr();
        let mut running = Running::start(chat);
        for datagram in [&b"from nc\n"[..], b"from windows\r\n", b"", b"plain"] {
            peer.send_to(datagram, to).unwrap();
        }
        for expected in ["from nc", "from windows", "", "plain"] {
            assert_eq!(running.heard(), expected);
        }
        running.stop.interrupt();
        running.finish();
    });
}

#[test]
fn receives_the_largest_datagram_untruncated() {
    with_timeout(|| {
        let (peer, chat) = endpoint_with_peer(|_| {});
        let to = chat.local_addr();
        let mut running = Running::start(chat);
        let big: Vec<u8> = (0..Chat::MAX_PAYLOAD_V4).map(|i| b'a' + (i % 26) as u8).collect();
        peer.send_to(&big, to).unwrap();
        assert_eq!(running.heard().as_bytes(), &big[..]);
        // And the other way: a line of exactly the limit goes out whole.
        let line = String::from_utf8(big.clone()).unwrap();
        running.say(&line);
        assert_eq!(recv(&peer).0, big);
        running.stop.interrupt();
        assert_eq!(running.finish().lines_not_sent, 0);
    });
}

#[test]
fn skips_a_line_too_long_for_a_datagram_and_sends_the_rest() {
    let (peer, chat) = endpoint_with_peer(|_| {});
    let mut input = b"before\n".to_vec();
    input.extend(vec![b'x'; Chat::MAX_PAYLOAD_V4 + 1]);
    input.extend_from_slice(b"\nafter\n");
    let summary = chat.run(Cursor::new(input), io::sink()).unwrap();
    assert_eq!((summary.lines_sent, summary.lines_not_sent), (2, 1));
    assert_eq!(recv(&peer).0, b"before");
    assert_eq!(recv(&peer).0, b"after");
}

#[test]
fn keeps_chatting_when_the_peer_is_not_listening() {
    with_timeout(|| {
        let absent = loopback_socket().local_addr().unwrap(); // bound, then closed
        let mut chat = endpoint(|_| {});
        chat.set_peer(absent).unwrap();
        let to = chat.local_addr();
        let mut running = Running::start(chat);
        let stranger = loopback_socket();
        for i in 0..5 {
            running.say(&format!("into the void {i}"));
            stranger
                .send_to(format!("still here {i}").as_bytes(), to)
                .unwrap();
            assert_eq!(running.heard(), format!("still here {i}"));
        }
        let summary = running.finish();
        assert_eq!((summary.ended, summary.lines_sent), (Ended::EndOfInput, 5));
        // At most one refusal per line; Linux may send fewer ICMP errors
        // than that (1,000 a second for the whole system, loopback included).
        assert!(summary.datagrams_refused <= 5, "{summary:?}");
    });
}

#[test]
fn linger_keeps_printing_after_the_input_ends() {
    with_timeout(|| {
        let (peer, chat) = endpoint_with_peer(|config| config.linger = Duration::from_secs(30));
        let mut running = Running::start(chat);
        running.say("last words");
        drop(running.input.take());
        let (_, to) = recv(&peer);
        // The input has ended, yet replies are still printed.
        peer.send_to(b"reply", to).unwrap();
        assert_eq!(running.heard(), "reply");
        // An interrupt cuts the linger short.
        let started = Instant::now();
        running.stop.interrupt();
        assert_eq!(running.finish().ended, Ended::Interrupted);
        assert!(started.elapsed() < Duration::from_secs(30));
    });
}

#[test]
fn receive_only_does_not_read_its_input() {
    with_timeout(|| {
        let (peer, chat) = endpoint_with_peer(|config| config.recv_only = true);
        let to = chat.local_addr();
        let mut running = Running::start(chat);
        // The endpoint may have dropped its unread input already: the write
        // may fail with EPIPE, which says as much.
        let _ = writeln!(running.input.as_mut().unwrap(), "must not be sent");
        drop(running.input.take()); // nor does the end of input stop it
        peer.send_to(b"logged", to).unwrap();
        assert_eq!(running.heard(), "logged");
        running.stop.interrupt();
        assert_eq!(running.finish().lines_sent, 0);
        peer.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        assert!(
            peer.recv_from(&mut [0; 64]).is_err(),
            "receive-only endpoint sent something"
        );
    });
}

/// An output that reports each `write` call, to check that queued datagrams are written in bulk.
struct ReportingOutput(crossbeam_channel::Sender<Vec<u8>>);

impl Write for ReportingOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = self.0.send(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn writes_queued_datagrams_in_a_few_large_writes() {
    let (peer, chat) = endpoint_with_peer(|_| {});
    let to = chat.local_addr();
    // Queued in the kernel before the chat runs, as when a file is piped in fast.
    let expected: String = (0..1000).map(|i| format!("line {i:04}\n")).collect();
    for line in expected.lines() {
        peer.send_to(line.as_bytes(), to).unwrap();
    }
    let (writes_tx, writes) = crossbeam_channel::unbounded();
    let stop = chat.shutdown_handle();
    let (input, _keep_open) = io::pipe().unwrap();
    let runner = thread::spawn(move || chat.run(BufReader::new(input), ReportingOutput(writes_tx)));
    let mut written = Vec::new();
    let mut calls = 0;
    while written.len() < expected.len() {
        written.extend(
            writes
                .recv_timeout(TIMEOUT)
                .expect("the 1000 lines within the timeout"),
        );
        calls += 1;
    }
    stop.interrupt();
    runner.join().unwrap().unwrap();
    assert_eq!(String::from_utf8(written).unwrap(), expected);
    assert!(calls <= 3, "{calls} writes for 1000 queued lines");
}

#[test]
fn a_closed_output_ends_the_chat_normally() {
    with_timeout(|| {
        let (peer, chat) = endpoint_with_peer(|_| {});
        let to = chat.local_addr();
        let (output_reader, output) = io::pipe().unwrap();
        drop(output_reader);
        let (input, _keep_open) = io::pipe().unwrap();
        let runner = thread::spawn(move || chat.run(BufReader::new(input), output));
        peer.send_to(b"nobody reads this", to).unwrap();
        assert_eq!(runner.join().unwrap().unwrap().ended, Ended::OutputClosed);
    });
}

#[test]
fn refuses_an_ipv6_peer_from_an_ipv4_socket() {
    let config = Config::peers(vec!["[::1]:2323".parse().unwrap()], LOOPBACK.parse().unwrap());
    let err = Chat::bind(config).err().expect("a family mismatch");
    assert!(matches!(err, Error::FamilyMismatch { .. }), "{err}");
    assert!(err.to_string().contains("[::1]:2323"), "{err}");
}

#[test]
fn a_dual_stack_socket_chats_with_an_ipv4_peer() {
    with_timeout(|| {
        let peer = loopback_socket();
        let config = Config::peers(vec![peer.local_addr().unwrap()], "[::]:0".parse().unwrap());
        let chat = match Chat::bind(config) {
            Ok(chat) => chat,
            Err(err) => {
                common::skip_or_fail(format_args!("no dual-stack socket on [::]:0: {err}"));
                return;
            }
        };
        let port = chat.local_addr().port();
        let mut running = Running::start(chat);
        running.say("over v4-mapped");
        let (bytes, from) = recv(&peer);
        assert_eq!(bytes, b"over v4-mapped");
        assert_eq!(from.port(), port);
        peer.send_to(b"back", ("127.0.0.1", port)).unwrap();
        assert_eq!(running.heard(), "back");
        running.stop.interrupt();
        running.finish();
    });
}

#[test]
fn chats_over_ipv6_loopback() {
    with_timeout(|| {
        let Some(peer) = common::ipv6_loopback_socket() else {
            return;
        };
        let config = Config::peers(vec![peer.local_addr().unwrap()], "[::1]:0".parse().unwrap());
        let chat = Chat::bind(config).unwrap();
        let to = chat.local_addr();
        let mut running = Running::start(chat);
        running.say("hello v6");
        assert_eq!(recv(&peer).0, b"hello v6");
        peer.send_to(b"hi", to).unwrap();
        assert_eq!(running.heard(), "hi");
        running.stop.interrupt();
        running.finish();
    });
}

#[test]
fn counts_the_datagrams_it_ignores_from_other_hosts() {
    with_timeout(|| {
        // A peer on 127.0.0.1 and a stranger on ::1: two hosts, as far as udpchat can tell.
        let Some(stranger) = common::ipv6_loopback_socket() else {
            return;
        };
        let peer = loopback_socket();
        let config = Config::peers(vec![peer.local_addr().unwrap()], "[::]:0".parse().unwrap());
        let chat = Chat::bind(config).unwrap();
        let port = chat.local_addr().port();
        let mut running = Running::start(chat);
        for _ in 0..3 {
            stranger.send_to(b"not for you", ("::1", port)).unwrap();
        }
        peer.send_to(b"for you", ("127.0.0.1", port)).unwrap();
        assert_eq!(running.heard(), "for you");
        running.stop.interrupt();
        let summary = running.finish();
        assert_eq!((summary.datagrams_received, summary.datagrams_ignored), (1, 3));
    });
}

#[test]
fn config_peers_sends_every_line_to_each_peer() {
    let (first, second) = (loopback_socket(), loopback_socket());
    let peers = vec![first.local_addr().unwrap(), second.local_addr().unwrap()];
    let chat = Chat::bind(Config::peers(peers, LOOPBACK.parse().unwrap())).unwrap();
    let summary = chat.run(Cursor::new("one\ntwo\n"), io::sink()).unwrap();
    assert_eq!((summary.lines_sent, summary.lines_not_sent), (2, 0));
    for peer in [&first, &second] {
        assert_eq!(recv(peer).0, b"one");
        assert_eq!(recv(peer).0, b"two");
    }
}

#[test]
fn an_empty_list_of_peers_is_refused() {
    let err = Chat::bind(Config::peers(Vec::new(), LOOPBACK.parse().unwrap()))
        .err()
        .expect("no peer to send to");
    assert!(matches!(err, Error::NoPeer), "{err}");
    assert!(err.to_string().starts_with("no peer given"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_multicast_room_through_the_library_hears_another_member_and_not_itself() {
    use udpchat::{Group, Interface};
    with_timeout(|| {
        let port = common::free_port();
        let member = || {
            let group = Group::new(SocketAddr::from(([239, 255, 23, 24], port)))
                .unwrap()
                .on(Interface::Name("lo".into()));
            Chat::bind(Config::group(group)).expect("join a room on lo")
        };
        let mut speaker = Running::start(member());
        let mut listener = Running::start(member());
        speaker.say("hello, room");
        let heard = listener.heard();
        assert!(
            heard.starts_with("<127.0.0.1:") && heard.ends_with("> hello, room"),
            "{heard}"
        );
        // The speaker's own line came back to it with the listener's copy;
        // had it been shown, it would come before the reply.
        listener.say("hello, speaker");
        let heard = speaker.heard();
        assert!(heard.ends_with("> hello, speaker"), "{heard}");
        let (speaker, listener) = (speaker.finish(), listener.finish());
        assert_eq!(
            (speaker.lines_sent, speaker.datagrams_received),
            (1, 1),
            "{speaker:?}"
        );
        assert_eq!(
            (listener.lines_sent, listener.datagrams_received),
            (1, 1),
            "{listener:?}"
        );
    });
}

/// An input or output that panics on first use, standing in for a bug in a thread.
struct Panicking;

impl io::Read for Panicking {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        panic!("a bug in the sender thread (this panic is expected)")
    }
}

impl Write for Panicking {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        panic!("a bug in the receiver thread (this panic is expected)")
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_thread_that_panics_ends_the_chat_with_an_error_instead_of_hanging_it() {
    with_timeout(|| {
        let peer = loopback_socket();
        let mut sender_fails = endpoint(|_| {});
        sender_fails.set_peer(peer.local_addr().unwrap()).unwrap();
        let err = sender_fails
            .run(BufReader::new(Panicking), io::sink())
            .unwrap_err();
        assert!(matches!(err, Error::Panicked { thread: "sender", .. }), "{err}");
        assert!(err.to_string().contains("a bug in the sender thread"), "{err}");

        let mut receiver_fails = endpoint(|config| config.recv_only = true);
        receiver_fails.set_peer(peer.local_addr().unwrap()).unwrap();
        let to = receiver_fails.local_addr();
        let runner = thread::spawn(move || receiver_fails.run(io::empty(), Panicking));
        peer.send_to(b"a line to print", to).unwrap();
        let err = runner.join().unwrap().unwrap_err();
        assert!(
            matches!(
                err,
                Error::Panicked {
                    thread: "receiver",
                    ..
                }
            ),
            "{err}"
        );
    });
}

#[cfg(feature = "secure")]
#[test]
fn two_secured_endpoints_chat_as_threads_and_refuse_a_plain_line() {
    with_timeout(|| {
        let secret = udpchat::Secret::generate().unwrap();
        let secured = |config: &mut Config| config.secret = Some(secret.clone());
        let mut a = endpoint(secured);
        let mut b = endpoint(secured);
        a.set_peer(b.local_addr()).unwrap();
        b.set_peer(a.local_addr()).unwrap();
        let b_addr = b.local_addr();
        let (mut a, mut b) = (Running::start(a), Running::start(b));
        // A plain datagram from a's host is not shown.
        let plain = loopback_socket();
        plain.send_to(b"plain, not sealed", b_addr).unwrap();
        a.say("sealed hello");
        assert_eq!(b.heard(), "sealed hello");
        b.say("sealed reply");
        assert_eq!(a.heard(), "sealed reply");
        let (a, b) = (a.finish(), b.finish());
        assert_eq!((a.lines_sent, b.datagrams_received), (1, 1));
        let secured = b.secured.expect("a secured chat counts what it refused");
        assert_eq!(secured.datagrams_rejected, 1, "{secured:?}");
        assert_eq!(secured.lines_lost, 0);
    });
}
