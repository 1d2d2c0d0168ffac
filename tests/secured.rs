//! Secured chats: a shared secret keeps strangers from reading, forging or replaying lines, and losses are told.

#![cfg(feature = "cli")]

mod common;

use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
#[cfg(unix)] // for the one test that is Unix's alone
use std::process::Command;

use common::{Rng, SecretFile, Udpchat, loopback_socket, recv, run_via};

/// udpchat holding `secret`, sending to `peer`.
fn secured(peer: &UdpSocket, secret: &SecretFile, flags: &[&str]) -> Udpchat {
    let mut args = vec!["--secret-file", secret.path()];
    args.extend_from_slice(flags);
    Udpchat::with_peer(peer, &args)
}

/// Sealed datagrams of `lines`, as a udpchat holding `secret` sends them.
fn sealed_lines(secret: &SecretFile, lines: &[&str]) -> Vec<Vec<u8>> {
    let capture = loopback_socket();
    let mut sender = secured(&capture, secret, &[]);
    let datagrams = lines
        .iter()
        .map(|line| {
            sender.send(format!("{line}\n"));
            recv(&capture).0
        })
        .collect();
    sender.close_stdin();
    assert_eq!(sender.exit_code().0, Some(0));
    datagrams
}

/// How many times `needle` occurs in `haystack`.
fn occurrences(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The number in each stderr warning `N line(s) from ADDR WHAT`, summed.
fn told(stderr: &str, what: &str) -> u64 {
    stderr
        .lines()
        .filter(|line| line.contains(" from ") && line.ends_with(what))
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "line" || *w == "lines").unwrap();
            words[at - 1].parse::<u64>().unwrap()
        })
        .sum()
}

#[test]
fn a_capture_holds_no_four_bytes_of_any_line_sent() {
    let secret = SecretFile::secret();
    let lines: Vec<String> = (0..50)
        .map(|i| format!("meet me at gate {i} with the red folder, line {i}"))
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let runs = |datagrams: &[Vec<u8>]| -> usize {
        let windows: HashSet<&[u8]> = lines.iter().flat_map(|line| line.as_bytes().windows(4)).collect();
        datagrams
            .iter()
            .flat_map(|datagram| datagram.windows(4))
            .filter(|window| windows.contains(window))
            .count()
    };
    assert_eq!(runs(&sealed_lines(&secret, &refs)), 0);

    // The same check finds the text in a plain chat's datagrams.
    let capture = loopback_socket();
    let mut plain = Udpchat::with_peer(&capture, &[]);
    let mut datagrams = Vec::new();
    for line in &lines {
        plain.send(format!("{line}\n"));
        datagrams.push(recv(&capture).0);
    }
    assert!(runs(&datagrams) > 0);
}

#[test]
fn shows_nothing_that_was_not_sealed_with_the_same_secret() {
    let (secret, other) = (SecretFile::secret(), SecretFile::secret());
    let genuine = sealed_lines(&secret, &["the real line"]).remove(0);
    let foreign = sealed_lines(&other, &["sealed with another secret"]).remove(0);
    let mut flipped = genuine.clone();
    flipped[60] ^= 0x01;
    let cut = genuine[..genuine.len() - 1].to_vec();

    let peer = loopback_socket();
    let mut chat = secured(&peer, &secret, &[]);
    let to = chat.bound_addr();
    for datagram in [
        &b"plain text from the peer's own address"[..],
        &flipped,
        &cut,
        &foreign,
    ] {
        peer.send_to(datagram, to).unwrap();
    }
    peer.send_to(&genuine, to).unwrap();
    // The receiver takes datagrams in order: the first line it shows is the last one sent.
    assert_eq!(chat.text_line(), "the real line");
    chat.close_stdin();
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    let warning = format!(
        "datagram from {} could not be authenticated: a different secret, or not a secured udpchat",
        peer.local_addr().unwrap()
    );
    assert_eq!(
        occurrences(&stderr, &warning),
        1,
        "told once per source address:\n{stderr}"
    );
    assert!(stderr.contains("4 datagrams rejected"), "{stderr}");
}

#[test]
fn a_plain_udpchat_shows_what_a_secured_one_refuses() {
    // The control for the test above: without a secret, the same plain datagram is shown.
    let peer = loopback_socket();
    let chat = Udpchat::with_peer(&peer, &[]);
    peer.send_to(b"plain text from the peer's own address", chat.bound_addr())
        .unwrap();
    assert_eq!(chat.text_line(), "plain text from the peer's own address");
}

#[test]
fn a_replayed_datagram_is_shown_once() {
    let secret = SecretFile::secret();
    let datagrams = sealed_lines(&secret, &["transfer approved", "done"]);
    let peer = loopback_socket();
    let mut chat = secured(&peer, &secret, &[]);
    let to = chat.bound_addr();
    for _ in 0..3 {
        peer.send_to(&datagrams[0], to).unwrap();
    }
    peer.send_to(&datagrams[1], to).unwrap();
    assert_eq!(chat.text_line(), "transfer approved");
    assert_eq!(chat.text_line(), "done");
    chat.close_stdin();
    let (_, stderr) = chat.exit_code();
    assert_eq!(
        told(&stderr, "came twice (duplicated or replayed): not shown again"),
        2,
        "{stderr}"
    );
    assert!(stderr.contains("0 lines lost, 2 duplicated"), "{stderr}");
}

/// A loopback socket with a receive buffer for a thousand lines in a burst,
/// so that the relay drops only what it means to.
fn roomy_socket() -> UdpSocket {
    let socket = loopback_socket();
    socket2::SockRef::from(&socket)
        .set_recv_buffer_size(4 << 20)
        .unwrap();
    socket
}

/// What a relay between two udpchats did to the lines it carried.
#[derive(Debug, Default, PartialEq, Eq)]
struct Mangled {
    dropped: u64,
    duplicated: u64,
    swapped: u64,
}

/// Carries datagrams from `from` to `to` until it has seen the sender's end
/// of input, dropping, duplicating or swapping lines (never the end) as
/// `fate` says for each. Returns what it did.
fn relay(
    socket: UdpSocket,
    to: SocketAddr,
    mut fate: impl FnMut(u64) -> Fate + Send + 'static,
) -> std::thread::JoinHandle<Mangled> {
    std::thread::spawn(move || {
        let mut mangled = Mangled::default();
        let mut held: Option<Vec<u8>> = None;
        let mut buffer = vec![0; 65_536];
        for number in 0.. {
            let len = socket.recv(&mut buffer).expect("a datagram within the timeout");
            let datagram = buffer[..len].to_vec();
            // Byte 57 of a sealed datagram, in the clear: 1 for the sender's end.
            if datagram[57] == 1 {
                // A line held back for a successor that never came goes
                // out in order after all: it was not swapped.
                if let Some(late) = held.take() {
                    mangled.swapped -= 1;
                    socket.send_to(&late, to).unwrap();
                }
                socket.send_to(&datagram, to).unwrap();
                return mangled;
            }
            match fate(number) {
                Fate::Drop => mangled.dropped += 1,
                Fate::Duplicate => {
                    mangled.duplicated += 1;
                    socket.send_to(&datagram, to).unwrap();
                    socket.send_to(&datagram, to).unwrap();
                }
                Fate::HoldBack if held.is_none() => {
                    mangled.swapped += 1;
                    held = Some(datagram);
                    continue;
                }
                Fate::HoldBack | Fate::Pass => {
                    socket.send_to(&datagram, to).unwrap();
                }
            }
            if let Some(late) = held.take() {
                socket.send_to(&late, to).unwrap();
            }
        }
        unreachable!()
    })
}

#[derive(Clone, Copy)]
enum Fate {
    Pass,
    Drop,
    Duplicate,
    /// Sent after the next one.
    HoldBack,
}

/// 1,000 lines piped from one secured udpchat to another through a relay
/// that treats each as `fate` says. Returns what the relay did, and the
/// receiver once it has seen the sender's end of input: it has then taken
/// every datagram, for that comes last.
fn across_a_relay(fate: impl FnMut(u64) -> Fate + Send + 'static) -> (Mangled, Udpchat) {
    let secret = SecretFile::secret();
    let relay_socket = roomy_socket();
    let receiver = secured(&relay_socket, &secret, &[]);
    let carried = relay(relay_socket.try_clone().unwrap(), receiver.bound_addr(), fate);
    let mut sender = secured(&relay_socket, &secret, &[]);
    sender.send((0..1000).map(|i| format!("line {i}\n")).collect::<String>());
    sender.close_stdin();
    assert_eq!(sender.exit_code().0, Some(0));
    let mangled = carried.join().unwrap();
    receiver.stderr_line_containing("ended its input after 1000 lines");
    (mangled, receiver)
}

#[test]
fn across_a_relay_that_drops_one_line_in_ten_the_count_told_is_the_count_lost() {
    let mut rng = Rng::from_env_or_clock();
    let (mangled, mut receiver) = across_a_relay(move |_| {
        if rng.below(10) == 0 {
            Fate::Drop
        } else {
            Fate::Pass
        }
    });
    assert!(mangled.dropped > 50, "{mangled:?}");
    for _ in 0..1000 - mangled.dropped {
        receiver.line();
    }
    receiver.close_stdin();
    let (code, stderr) = receiver.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(told(&stderr, "lost"), mangled.dropped, "{stderr}");
    let lines = if mangled.dropped == 1 { "line" } else { "lines" };
    let summary = format!(
        "secured: {} {lines} lost, 0 duplicated, 0 out of order",
        mangled.dropped
    );
    assert!(stderr.contains(&summary), "{summary}\n{stderr}");
}

#[test]
fn lines_duplicated_or_reordered_on_the_way_are_told_and_counted() {
    let mut rng = Rng::from_env_or_clock();
    let (mangled, mut receiver) = across_a_relay(move |_| match rng.below(20) {
        0 => Fate::Duplicate,
        1 => Fate::HoldBack,
        _ => Fate::Pass,
    });
    assert!(mangled.duplicated > 10 && mangled.swapped > 10, "{mangled:?}");
    let mut seen = HashSet::new();
    for _ in 0..1000 {
        assert!(seen.insert(receiver.text_line()), "a line shown twice");
    }
    receiver.close_stdin();
    let (_, stderr) = receiver.exit_code();
    assert_eq!(
        told(&stderr, "came twice (duplicated or replayed): not shown again"),
        mangled.duplicated
    );
    assert_eq!(told(&stderr, "came late, out of order"), mangled.swapped);
    let summary = format!(
        "secured: 0 lines lost, {} duplicated, {} out of order",
        mangled.duplicated, mangled.swapped
    );
    assert!(stderr.contains(&summary), "{summary}\n{stderr}");
}

#[test]
fn json_lines_carry_the_lines_lost() {
    let secret = SecretFile::secret();
    let datagrams = sealed_lines(&secret, &["one", "two", "three"]);
    let peer = loopback_socket();
    let mut chat = secured(&peer, &secret, &["--format", "json"]);
    let to = chat.bound_addr();
    peer.send_to(&datagrams[0], to).unwrap();
    peer.send_to(&datagrams[2], to).unwrap();
    let parse = |line: Vec<u8>| serde_json::from_slice::<serde_json::Value>(&line).unwrap();
    assert_eq!(parse(chat.line())["text"], "one");
    let lost = parse(chat.line());
    assert_eq!(
        (lost["lost"].as_u64(), lost.get("text")),
        (Some(1), None),
        "{lost}"
    );
    assert_eq!(parse(chat.line())["text"], "three");
    chat.close_stdin();
    chat.exit_code();
}

#[test]
fn a_passphrase_in_the_environment_secures_a_chat_between_two_udpchats() {
    let passphrase = ("UDPCHAT_SECRET", "correct horse battery staple");
    let b_socket = loopback_socket();
    let b_port = b_socket.local_addr().unwrap().port();
    drop(b_socket);
    let mut a = Udpchat::start_with(
        &["-b", "127.0.0.1:0", &format!("127.0.0.1:{b_port}")],
        |command| {
            command.env(passphrase.0, passphrase.1);
        },
    );
    let a_addr = a.bound_addr().to_string();
    let b_bind = format!("127.0.0.1:{b_port}");
    let mut b = Udpchat::start_with(&["-b", &b_bind, &a_addr], |command| {
        command.env(passphrase.0, passphrase.1);
    });
    b.bound_addr();
    a.send("hello over a passphrase\n");
    assert_eq!(b.text_line(), "hello over a passphrase");
    b.send("and back\n");
    assert_eq!(a.text_line(), "and back");
    // The passphrase is nowhere on the command line.
    #[cfg(target_os = "linux")]
    {
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", a.pid())).unwrap();
        assert!(!String::from_utf8_lossy(&cmdline).contains("horse"));
    }
}

#[test]
fn refuses_a_secret_on_the_command_line() {
    let (code, stderr) = common::run(&["--secret", "hunter2", "127.0.0.1:9"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("a secret is not taken on the command line"),
        "{stderr}"
    );
    assert!(stderr.contains("--secret-file"), "{stderr}");
}

#[test]
fn help_never_shows_the_secret_from_the_environment() {
    let output = common::output_via(
        env!("CARGO_BIN_EXE_udpchat"),
        &["--help"],
        &[("UDPCHAT_SECRET", "hunter2-in-the-environment")],
    );
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("--secret-file") && help.contains("UDPCHAT_SECRET"),
        "{help}"
    );
    assert!(!help.contains("hunter2"), "{help}");
}

#[cfg(unix)]
#[test]
fn warns_when_the_secret_file_is_readable_by_other_users() {
    let secret = SecretFile::secret();
    let open = SecretFile::new(&std::fs::read_to_string(&secret.0).unwrap(), 0o644);
    let (code, stderr) = run_via(
        env!("CARGO_BIN_EXE_udpchat"),
        &["--secret-file", open.path(), "-b", "127.0.0.1:0", "127.0.0.1:9"],
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("can be read by other users (mode 644)"),
        "{stderr}"
    );
    let (_, quiet) = run_via(
        env!("CARGO_BIN_EXE_udpchat"),
        &["--secret-file", secret.path(), "-b", "127.0.0.1:0", "127.0.0.1:9"],
        &[],
    );
    assert!(!quiet.contains("other users"), "{quiet}");
}

#[test]
fn a_missing_empty_or_unreadable_secret_is_a_usage_error() {
    let empty = SecretFile::new("\n", 0o600);
    let directory = empty.0.parent().unwrap().to_str().unwrap().to_owned();
    let missing = format!("{directory}/no-such-file");
    for (args, env, expected) in [
        (
            vec!["--secret-file", missing.as_str()],
            vec![],
            "cannot read the secret file",
        ),
        (vec!["--secret-file", empty.path()], vec![], "invalid secret in"),
        (
            vec!["--secret-file", directory.as_str()],
            vec![],
            "cannot read the secret file",
        ),
        (
            vec![],
            vec![("UDPCHAT_SECRET", " ")],
            "invalid secret in UDPCHAT_SECRET: it is empty",
        ),
        (
            vec![],
            vec![("UDPCHAT_SECRET", "udpchat1-AAAA")],
            "invalid secret in UDPCHAT_SECRET: it starts like a generated secret",
        ),
    ] {
        let mut all = args.clone();
        all.extend_from_slice(&["-b", "127.0.0.1:0", "127.0.0.1:9"]);
        let (code, stderr) = run_via(env!("CARGO_BIN_EXE_udpchat"), &all, &env);
        assert_eq!(code, Some(2), "{args:?} {env:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?} {env:?}: {stderr}");
        // A file that does not exist may be a passphrase: a hint says where that goes.
        let hinted = args.contains(&missing.as_str());
        assert_eq!(stderr.lines().count(), 1 + usize::from(hinted), "{stderr}");
        assert_eq!(
            stderr.contains("udpchat: hint: no such file;"),
            hinted,
            "{stderr}"
        );
    }
}

#[cfg(unix)]
#[test]
fn generates_a_secret_into_a_file_only_its_owner_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let file = SecretFile::new("", 0o644);
    let status = Command::new(env!("CARGO_BIN_EXE_udpchat"))
        .args(["--generate", "secret"])
        .stdout(std::fs::File::create(&file.0).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&file.0).unwrap();
    assert!(text.starts_with("udpchat1-") && text.ends_with('\n'), "{text}");
    let mode = std::fs::metadata(&file.0).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn names_the_longest_line_a_secured_datagram_holds() {
    let secret = SecretFile::secret();
    let peer = loopback_socket();
    let mut chat = secured(&peer, &secret, &[]);
    let longest = udpchat::Chat::MAX_PAYLOAD_V4 - 74;
    chat.send(format!(
        "{}\n{}\nafter\n",
        "x".repeat(longest),
        "y".repeat(longest + 1)
    ));
    assert_eq!(recv(&peer).0.len(), udpchat::Chat::MAX_PAYLOAD_V4);
    chat.close_stdin();
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(1), "{stderr}");
    let expected = format!(
        "line 2 not sent: {} bytes do not fit in one secured datagram (at most {longest})",
        longest + 1
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

/// Sends `payload` to `to` in a UDP datagram whose source address is `from`,
/// forged with a raw socket, as an attacker on the LAN can. `Err` with the
/// reason where raw sockets need a privilege this test lacks.
#[cfg(target_os = "linux")]
fn send_forged(from: SocketAddr, to: SocketAddr, payload: &[u8]) -> Result<(), String> {
    use socket2::{Domain, Protocol, Socket, Type};
    let (SocketAddr::V4(from), SocketAddr::V4(to)) = (from, to) else {
        return Err("IPv4 only".into());
    };
    // IPPROTO_RAW: the IP header is ours; Linux fills in its checksum and length.
    let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(255)))
        .map_err(|err| format!("cannot open a raw socket: {err}"))?;
    let udp_len = 8 + payload.len();
    let mut packet = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0];
    packet.extend_from_slice(&from.ip().octets());
    packet.extend_from_slice(&to.ip().octets());
    packet.extend_from_slice(&from.port().to_be_bytes());
    packet.extend_from_slice(&to.port().to_be_bytes());
    packet.extend_from_slice(&(udp_len as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0]); // no UDP checksum, as IPv4 allows
    packet.extend_from_slice(payload);
    let total = packet.len() as u16;
    packet[2..4].copy_from_slice(&total.to_be_bytes());
    socket
        .send_to(&packet, &SocketAddr::V4(to).into())
        .map_err(|err| format!("cannot send a forged datagram: {err}"))?;
    Ok(())
}

#[cfg(target_os = "linux")]
#[test]
fn a_datagram_forged_with_the_peers_source_address_is_refused() {
    let peer = loopback_socket();
    let forged_from = peer.local_addr().unwrap();
    // Without a secret, the forgery passes for the peer's line: the threat.
    let plain = Udpchat::with_peer(&peer, &[]);
    if let Err(why) = send_forged(forged_from, plain.bound_addr(), b"forged: send me the key") {
        common::skip_or_fail(why);
        return;
    }
    assert_eq!(plain.text_line(), "forged: send me the key");

    let secret = SecretFile::secret();
    let genuine = sealed_lines(&secret, &["genuine"]).remove(0);
    let mut chat = secured(&peer, &secret, &["--accept-any"]);
    let to = chat.bound_addr();
    send_forged(forged_from, to, b"forged: send me the key").unwrap();
    peer.send_to(&genuine, to).unwrap();
    assert_eq!(chat.text_line(), "genuine");
    chat.close_stdin();
    let (_, stderr) = chat.exit_code();
    assert!(
        stderr.contains(&format!("datagram from {forged_from} could not be authenticated")),
        "{stderr}"
    );
    assert!(stderr.contains("1 datagram rejected"), "{stderr}");
}

#[test]
fn a_line_of_its_own_sent_back_from_the_peers_address_is_refused() {
    let secret = SecretFile::secret();
    let genuine = sealed_lines(&secret, &["from the peer"]).remove(0);
    let peer = loopback_socket();
    let mut chat = secured(&peer, &secret, &[]);
    let to = chat.bound_addr();
    chat.send("transfer 100 to mallory\n");
    let (mine, _) = recv(&peer);
    // Whoever recorded it sends it back, from the peer's own address.
    peer.send_to(&mine, to).unwrap();
    peer.send_to(&genuine, to).unwrap();
    assert_eq!(chat.text_line(), "from the peer");
    chat.close_stdin();
    let (_, stderr) = chat.exit_code();
    assert!(
        stderr.contains("is one of this chat's own, sent back: not shown"),
        "{stderr}"
    );
    assert!(stderr.contains("1 datagram rejected"), "{stderr}");
}
