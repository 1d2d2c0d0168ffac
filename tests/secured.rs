//! Secured chats: a shared secret keeps strangers from reading, forging or replaying lines, and losses are told.

#![cfg(feature = "cli")]

mod common;

use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
#[cfg(unix)] // for the one test that is Unix's alone
use std::process::Command;
use std::time::{Duration, Instant};

use common::sealing::{self, Key, now_ms};
use common::{Rng, SecretFile, TIMEOUT, Udpchat, loopback_socket, recv, run_via};

/// udpchat holding `secret`, sending to `peer`.
fn secured(peer: &UdpSocket, secret: &SecretFile, flags: &[&str]) -> Udpchat {
    let mut args = vec!["--secret-file", secret.path()];
    args.extend_from_slice(flags);
    Udpchat::with_peer(peer, &args)
}

/// Sealed datagrams of `lines`, as a udpchat holding `secret` sends them
/// to a capture socket, whose address is returned too: a chat they are
/// replayed to is reached there (`--reachable-at`), as through a relay.
fn sealed_lines(secret: &SecretFile, lines: &[&str]) -> (Vec<Vec<u8>>, String) {
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
    (datagrams, capture.local_addr().unwrap().to_string())
}

/// How many times `needle` occurs in `haystack`.
fn occurrences(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The number in each stderr warning `N line(s) from ADDR WHAT`, summed.
fn told(stderr: &str, what: &str) -> u64 {
    stderr
        .lines()
        .filter(|line| line.contains(" from ") && line.contains(what))
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "line" || *w == "lines").unwrap();
            words[at - 1].parse::<u64>().unwrap()
        })
        .sum()
}

/// The lines told lost on stderr (`N line(s) from ADDR lost`), summed.
fn told_lost(stderr: &str) -> u64 {
    let lost: String = stderr
        .lines()
        .filter(|line| line.ends_with(" lost"))
        .map(|line| format!("{line}\n"))
        .collect();
    told(&lost, " lost")
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
    assert_eq!(runs(&sealed_lines(&secret, &refs).0), 0);

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
    let (mut genuine, capture) = sealed_lines(&secret, &["the real line"]);
    let genuine = genuine.remove(0);
    let foreign = sealed_lines(&other, &["sealed with another secret"]).0.remove(0);
    let mut flipped = genuine.clone();
    flipped[80] ^= 0x01;
    let cut = genuine[..genuine.len() - 1].to_vec();

    let peer = loopback_socket();
    let mut chat = secured(&peer, &secret, &["--reachable-at", &capture]);
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
    let from = peer.local_addr().unwrap();
    let warning = format!(
        "datagram from {from} could not be authenticated: sealed with a different secret, or changed on the way"
    );
    assert_eq!(
        occurrences(&stderr, &warning),
        1,
        "told once per source address:\n{stderr}"
    );
    // The plain datagram is told as what it is, not blamed on the secret.
    assert!(
        stderr.contains(&format!("datagram from {from} is not sealed (a plain udpchat")),
        "{stderr}"
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
    let (datagrams, capture) = sealed_lines(&secret, &["transfer approved", "done"]);
    let peer = loopback_socket();
    let mut chat = secured(&peer, &secret, &["--reachable-at", &capture]);
    let to = chat.bound_addr();
    for _ in 0..3 {
        peer.send_to(&datagrams[0], to).unwrap();
    }
    peer.send_to(&datagrams[1], to).unwrap();
    assert_eq!(chat.text_line(), "transfer approved");
    assert_eq!(chat.text_line(), "done");
    chat.close_stdin();
    let (_, stderr) = chat.exit_code();
    assert_eq!(told(&stderr, "came twice (duplicated, replayed"), 2, "{stderr}");
    assert!(stderr.contains("0 lines lost, 2 duplicated"), "{stderr}");
}

#[test]
fn json_lines_carry_the_lines_lost() {
    let secret = SecretFile::secret();
    let (datagrams, capture) = sealed_lines(&secret, &["one", "two", "three"]);
    let peer = loopback_socket();
    let mut chat = secured(&peer, &secret, &["--format", "json", "--reachable-at", &capture]);
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

#[test]
fn a_file_that_starts_like_a_generated_secret_but_is_not_one_names_what_is_wrong() {
    let good = std::fs::read_to_string(&SecretFile::secret().0).unwrap();
    let digits = good.trim().strip_prefix("udpchat1-").unwrap();
    for (text, expected) in [
        (format!("udpchat2-{digits}\n"), "of another version"),
        (format!("udpchat-{digits}\n"), "has no version (udpchat-)"),
        (
            format!("udpchat1-{}\n", &digits[..digits.len() - 5]),
            "fewer than the 52",
        ),
    ] {
        let file = SecretFile::new(&text, 0o600);
        let (code, stderr) = run_via(
            env!("CARGO_BIN_EXE_udpchat"),
            &["--secret-file", file.path(), "-b", "127.0.0.1:0", "127.0.0.1:9"],
            &[],
        );
        assert_eq!(code, Some(2), "{text}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid secret in {}", file.path())),
            "{stderr}"
        );
        assert!(stderr.contains(expected), "{text}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[test]
fn a_generated_secret_with_a_typo_that_makes_it_a_passphrase_is_warned_about() {
    let good = std::fs::read_to_string(&SecretFile::secret().0).unwrap();
    let digits = good.trim().strip_prefix("udpchat1-").unwrap();
    // Typed from a note or read out: a space for the dash, an l for the 1.
    for text in [format!("udpchat1 {digits}\n"), format!("udpchatl-{digits}\n")] {
        let file = SecretFile::new(&text, 0o600);
        let (code, stderr) = run_via(
            env!("CARGO_BIN_EXE_udpchat"),
            &["--secret-file", file.path(), "-b", "127.0.0.1:0", "127.0.0.1:9"],
            &[],
        );
        assert_eq!(code, Some(0), "{text}: {stderr}");
        assert!(
            stderr.contains("starts with udpchat but is not a generated secret"),
            "{text}: {stderr}"
        );
    }
    // A passphrase that does not look like one is not warned about.
    let file = SecretFile::new("correct horse battery staple\n", 0o600);
    let (code, stderr) = run_via(
        env!("CARGO_BIN_EXE_udpchat"),
        &["--secret-file", file.path(), "-b", "127.0.0.1:0", "127.0.0.1:9"],
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("starts with udpchat"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn a_secret_file_that_is_a_fifo_with_no_writer_is_refused_at_once() {
    let file = SecretFile::new("", 0o600);
    std::fs::remove_file(&file.0).unwrap();
    nix::unistd::mkfifo(&file.0, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // run_via fails the test if udpchat does not exit within the timeout.
    for path in [file.path(), "/dev/zero"] {
        let (code, stderr) = run_via(
            env!("CARGO_BIN_EXE_udpchat"),
            &["--secret-file", path, "-b", "127.0.0.1:0", "127.0.0.1:9"],
            &[],
        );
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("not a regular file"), "{stderr}");
    }
    let (_, stderr) = run_via(
        env!("CARGO_BIN_EXE_udpchat"),
        &["--secret-file", file.path(), "-b", "127.0.0.1:0", "127.0.0.1:9"],
        &[],
    );
    assert!(
        stderr.contains("it is a FIFO (a named pipe), not a regular file"),
        "{stderr}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn argon2_without_its_memory_is_told_as_that() {
    // An address space too small for Argon2's 64 MiB, large enough to start.
    let script = format!(
        "ulimit -v 60000 && exec {} -b 127.0.0.1:0 127.0.0.1:9",
        env!("CARGO_BIN_EXE_udpchat")
    );
    let (code, stderr) = run_via(
        "sh",
        &["-c", &script],
        &[("UDPCHAT_SECRET", "correct horse battery staple")],
    );
    assert!(
        stderr.contains("cannot derive the key from the passphrase: could not get Argon2's 64 MiB of memory"),
        "{stderr}"
    );
    assert_eq!(code, Some(1), "{stderr}");
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
    let longest = udpchat::Chat::MAX_PAYLOAD_V4 - sealing::OVERHEAD;
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
    let (mut genuine, capture) = sealed_lines(&secret, &["genuine"]);
    let genuine = genuine.remove(0);
    let mut chat = secured(&peer, &secret, &["--accept-any", "--reachable-at", &capture]);
    let to = chat.bound_addr();
    send_forged(forged_from, to, b"forged: send me the key").unwrap();
    peer.send_to(&genuine, to).unwrap();
    assert_eq!(chat.text_line(), "genuine");
    chat.close_stdin();
    let (_, stderr) = chat.exit_code();
    assert!(
        stderr.contains(&format!("datagram from {forged_from} is not sealed")),
        "{stderr}"
    );
    assert!(stderr.contains("1 datagram rejected"), "{stderr}");
}

#[test]
fn a_line_of_its_own_sent_back_from_the_peers_address_is_refused() {
    let secret = SecretFile::secret();
    let (mut genuine, capture) = sealed_lines(&secret, &["from the peer"]);
    let genuine = genuine.remove(0);
    let peer = loopback_socket();
    let mut chat = secured(&peer, &secret, &["--reachable-at", &capture]);
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
        stderr.contains("is one of this chat's own, or one sent to its peer, sent back: not shown"),
        "{stderr}"
    );
    assert!(stderr.contains("1 datagram rejected"), "{stderr}");
}

#[test]
fn a_line_of_its_own_recorded_before_a_restart_is_refused() {
    let secret = SecretFile::secret();
    let peer = loopback_socket();
    let mut before = secured(&peer, &secret, &[]);
    before.send("transfer 100 to mallory\n");
    let (mine, _) = recv(&peer);
    before.close_stdin();
    assert_eq!(before.exit_code().0, Some(0));
    // The same chat, started again: a new session, so only `to` can tell.
    let mut after = secured(&peer, &secret, &[]);
    peer.send_to(&mine, after.bound_addr()).unwrap();
    after.stderr_line_containing("is one of this chat's own, or one sent to its peer, sent back");
    after.close_stdin();
    let (_, stderr) = after.exit_code();
    assert!(stderr.contains("1 datagram rejected"), "{stderr}");
    assert_eq!(after.try_line(Duration::ZERO), None, "{stderr}");
}

#[test]
fn a_datagram_recorded_in_another_chat_with_the_same_secret_is_refused() {
    let secret = SecretFile::secret();
    let (mut recorded, elsewhere) = sealed_lines(&secret, &["meant for another chat"]);
    let peer = loopback_socket();
    let mut chat = secured(&peer, &secret, &[]);
    peer.send_to(&recorded.remove(0), chat.bound_addr()).unwrap();
    let warning = chat.stderr_line_containing("not to this chat");
    assert!(
        warning.contains(&format!("was sent to {elsewhere}, not to this chat")),
        "{warning}"
    );
    assert!(warning.contains("--reachable-at"), "{warning}");
    chat.close_stdin();
    let (_, stderr) = chat.exit_code();
    assert_eq!(chat.try_line(Duration::ZERO), None, "{stderr}");
}

#[test]
fn other_versions_and_kinds_are_told_as_what_they_are_not_blamed_on_the_secret() {
    let key = Key::new();
    let peer = loopback_socket();
    let mut chat = secured(&peer, &key.file, &[]);
    let to = chat.bound_addr();
    let mut version_1 = vec![1u8; 100];
    version_1[57] = 0;
    let mut version_3 = key.line(1, now_ms(), 0, to, "from the future");
    version_3[0] = 3;
    let mut newer_kind = sealing::Fields {
        kind: 200,
        session: 7,
        started: now_ms(),
        sequence: 0,
        sent: now_ms(),
        to,
    };
    for datagram in [version_1, version_3, key.seal(&newer_kind, b"a newer kind")] {
        peer.send_to(&datagram, to).unwrap();
    }
    newer_kind.kind = 0;
    peer.send_to(&key.seal(&newer_kind, b"a line"), to).unwrap();
    assert_eq!(chat.text_line(), "a line");
    chat.close_stdin();
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    for told in [
        "is from an older udpchat (secured format 1), which this one does not speak: upgrade it",
        "is in secured format version 3, which this udpchat does not speak (a newer udpchat?)",
        "is of a kind this udpchat does not know (200): a newer udpchat? ignored",
        "2 datagrams rejected, 1 datagram of a kind this udpchat does not know ignored",
    ] {
        assert!(stderr.contains(told), "{told}\n{stderr}");
    }
    assert!(!stderr.contains("different secret"), "{stderr}");
}

#[test]
fn a_jump_no_chat_could_make_is_refused_as_implausible_and_counts_nothing_lost() {
    let key = Key::new();
    let peer = loopback_socket();
    let mut chat = secured(&peer, &key.file, &["--format", "json"]);
    let to = chat.bound_addr();
    let started = now_ms() - 30_000;
    for (sequence, text) in [
        (0, "first"),
        (u64::MAX - 1, "far"),
        (1 << 40, "far"),
        (1, "second"),
    ] {
        peer.send_to(&key.line(9, started, sequence, to, text), to)
            .unwrap();
    }
    let text = |line: Vec<u8>| serde_json::from_slice::<serde_json::Value>(&line).unwrap()["text"].clone();
    assert_eq!(text(chat.line()), "first");
    assert_eq!(text(chat.line()), "second");
    // The first datagram of a session: there is no last line to be ahead of.
    let other = loopback_socket();
    other
        .send_to(&key.line(10, started, 1 << 53, to, "far"), to)
        .unwrap();
    other.send_to(&key.line(11, started, 0, to, "third"), to).unwrap();
    assert_eq!(text(chat.line()), "third");
    chat.close_stdin();
    let (_, stderr) = chat.exit_code();
    assert!(
        stderr.contains("implausible (no chat sends that fast)"),
        "{stderr}"
    );
    for number in [u64::MAX - 1, 1 << 53] {
        assert!(
            stderr.contains(&format!("is numbered {number}, further than")),
            "{stderr}"
        );
    }
    assert!(
        stderr.contains("secured: 0 lines lost, 0 duplicated, 0 out of order, 3 datagrams rejected"),
        "{stderr}"
    );
}

/// What a relay did to the lines it carried: what the receiver must count.
#[derive(Debug, Default, PartialEq, Eq)]
struct Truth {
    /// Lines never delivered.
    lost: u64,
    /// Copies delivered of lines delivered already.
    duplicated: u64,
    /// Lines delivered after a later one was: counted lost, then taken back.
    late: u64,
}

/// How a relay treats each line, in percent; the rest pass.
#[derive(Clone, Copy)]
struct Mangling {
    drop: usize,
    duplicate: usize,
    hold_back: usize,
}

/// Carries datagrams arriving at `socket` to `to` until the sender's end of
/// input, treating each line as `mangling` and a seeded `rng` say: dropped,
/// duplicated, or held back behind one to three later datagrams. After the
/// end it sends `sentinel`, a line of another session: once the receiver
/// shows it, it has taken every datagram before it. Returns the truth,
/// computed from what it delivered, in order.
fn relay(
    socket: UdpSocket,
    to: SocketAddr,
    mangling: Mangling,
    mut rng: Rng,
    sentinel: Vec<u8>,
) -> std::thread::JoinHandle<(Truth, u64)> {
    std::thread::spawn(move || {
        let mut truth = Truth::default();
        let mut delivered = HashSet::new();
        let mut highest = None;
        let mut deliver = |datagram: &[u8], truth: &mut Truth| {
            let sequence = sealing::sequence_of(datagram);
            if !delivered.insert(sequence) {
                truth.duplicated += 1;
            } else if highest.is_some_and(|highest| highest > sequence) {
                truth.late += 1;
            }
            highest = highest.max(Some(sequence));
            socket.send_to(datagram, to).unwrap();
        };
        // Held-back lines, each with how many more datagrams it waits for.
        let mut held: Vec<(Vec<u8>, usize)> = Vec::new();
        let mut buffer = vec![0; 65_536];
        let mut lines = 0;
        loop {
            let len = socket.recv(&mut buffer).expect("a datagram within the timeout");
            let datagram = buffer[..len].to_vec();
            if datagram[sealing::AT_KIND] == sealing::END {
                for (late, _) in held.drain(..) {
                    deliver(&late, &mut truth);
                }
                socket.send_to(&datagram, to).unwrap();
                socket.send_to(&sentinel, to).unwrap();
                truth.lost = sealing::sequence_of(&datagram) - delivered_count(&delivered);
                return (truth, lines);
            }
            lines += 1;
            let roll = rng.below(100);
            if roll < mangling.drop {
            } else if roll < mangling.drop + mangling.duplicate {
                deliver(&datagram, &mut truth);
                deliver(&datagram, &mut truth);
            } else if roll < mangling.drop + mangling.duplicate + mangling.hold_back {
                held.push((datagram, 1 + rng.below(3)));
                continue;
            } else {
                deliver(&datagram, &mut truth);
            }
            for wait in held.iter_mut() {
                wait.1 -= 1;
            }
            while let Some(at) = held.iter().position(|(_, wait)| *wait == 0) {
                let (late, _) = held.remove(at);
                deliver(&late, &mut truth);
            }
        }
    })
}

fn delivered_count(delivered: &HashSet<u64>) -> u64 {
    delivered.len() as u64
}

/// 1,000 lines piped from a secured udpchat through a relay that mangles
/// them as `mangling` says, to a receiver made by `receive` (given the
/// relay's address, the key and the sentinel line it must wait for).
/// Returns the truth, and what the receiver returns.
fn across_a_relay<T>(
    mangling: Mangling,
    receive: impl FnOnce(SocketAddr, &Key) -> (SocketAddr, T),
    finish: impl FnOnce(T) -> T,
) -> (Truth, T) {
    let key = Key::new();
    let rng = Rng::from_env_or_clock();
    let relay_socket = loopback_socket();
    socket2::SockRef::from(&relay_socket)
        .set_recv_buffer_size(4 << 20)
        .unwrap();
    let relay_addr = relay_socket.local_addr().unwrap();
    let (to, receiver) = receive(relay_addr, &key);
    let sentinel = key.line(u64::MAX - 7, now_ms() - 60_000, 0, relay_addr, "sentinel");
    let carried = relay(relay_socket.try_clone().unwrap(), to, mangling, rng, sentinel);
    let mut sender = Udpchat::with_peer(
        &relay_socket,
        &["--secret-file", key.file.path(), "--rate", "4000"],
    );
    sender.send((0..1000).map(|i| format!("line {i}\n")).collect::<String>());
    sender.close_stdin();
    assert_eq!(sender.exit_code().0, Some(0));
    let (truth, lines) = carried.join().unwrap();
    assert_eq!(lines, 1000);
    (truth, finish(receiver))
}

/// What a udpchat receiving through a relay told on each channel, in net.
#[derive(Debug, PartialEq, Eq)]
struct Told {
    lost: i64,
    duplicated: u64,
    late: u64,
}

/// The relay's truth against every channel of a udpchat (stderr, JSON
/// objects, the -v summary) and of a library chat (`Summary::secured`).
fn every_channel_tells_the_truth(mangling: Mangling) -> Truth {
    // The binary, with JSON lines.
    let (truth, (stderr, json)) = across_a_relay(
        mangling,
        |relay, key| {
            let relay = relay.to_string();
            let args = [
                "--secret-file",
                key.file.path(),
                "--format",
                "json",
                "--reachable-at",
                &relay,
                "-b",
                "127.0.0.1:0",
                &relay,
            ];
            let chat = Udpchat::start(&args);
            (chat.bound_addr(), (chat, Vec::new()))
        },
        |(mut chat, _)| {
            let mut objects = Vec::new();
            loop {
                let object: serde_json::Value = serde_json::from_slice(&chat.line()).unwrap();
                if object["text"] == "sentinel" {
                    break;
                }
                objects.push(object);
            }
            chat.close_stdin();
            let (code, stderr) = chat.exit_code();
            assert_eq!(code, Some(0), "{stderr}");
            // What was folded is told at the end, at the latest.
            while let Some(line) = chat.try_line(Duration::ZERO) {
                objects.push(serde_json::from_slice(&line).unwrap());
            }
            (chat, objects)
        },
    );
    let stderr = stderr.stderr();
    let sum = |field: &str| -> u64 { json.iter().filter_map(|object| object[field].as_u64()).sum() };
    let shown = json.iter().filter(|object| object.get("text").is_some()).count() as u64;
    assert_eq!(shown, 1000 - truth.lost, "{truth:?}");
    let in_json = Told {
        lost: sum("lost") as i64 - sum("late") as i64,
        duplicated: sum("duplicated"),
        late: sum("late"),
    };
    let in_stderr = Told {
        lost: told_lost(&stderr) as i64 - told(&stderr, "told lost, came late after all") as i64,
        duplicated: told(&stderr, "came twice"),
        late: 0,
    };
    let expected = |late| Told {
        lost: truth.lost as i64,
        duplicated: truth.duplicated,
        late,
    };
    let events: Vec<_> = json
        .iter()
        .filter(|object| object.get("text").is_none())
        .collect();
    assert_eq!(in_json, expected(truth.late), "JSON: {truth:?}\n{events:?}");
    assert_eq!(in_stderr, expected(0), "stderr: {truth:?}\n{stderr}");
    let lines = if truth.lost == 1 { "line" } else { "lines" };
    let summary = format!(
        "secured: {} {lines} lost, {} duplicated, {} out of order, 0 datagrams rejected",
        truth.lost, truth.duplicated, truth.late
    );
    assert!(stderr.contains(&summary), "{summary}\n{stderr}");
    assert!(
        !stderr.contains("dropped by the kernel") || stderr.contains(" 0 dropped by the kernel"),
        "{stderr}"
    );

    // The library, with the same relay (another run, its own truth).
    let (truth_again, summary) = across_a_relay(
        mangling,
        |relay, key| {
            let loopback = "127.0.0.1:0".parse().unwrap();
            let mut config = udpchat::Config::peers(vec![relay], loopback);
            config.secret = Some(udpchat::Secret::from_file(&key.file.0).unwrap());
            config.reachable_at = vec![relay];
            config.recv_only = true;
            let chat = udpchat::Chat::bind(config).unwrap();
            let addr = chat.local_addr();
            let stop = chat.shutdown_handle();
            let (screen, output) = std::io::pipe().unwrap();
            let running = std::thread::spawn(move || chat.run(std::io::empty(), output));
            (addr, (screen, stop, Some(running), None))
        },
        |(screen, stop, running, _)| {
            use std::io::BufRead;
            let lines = std::io::BufReader::new(screen).lines();
            for line in lines {
                if line.unwrap() == "sentinel" {
                    break;
                }
            }
            stop.interrupt();
            let summary = running.unwrap().join().unwrap().unwrap();
            let (screen, _) = std::io::pipe().unwrap();
            (screen, stop, None, Some(summary))
        },
    );
    let secured = summary.3.unwrap().secured.unwrap();
    assert_eq!(
        (
            secured.lines_lost,
            secured.lines_duplicated,
            secured.lines_reordered
        ),
        (truth_again.lost, truth_again.duplicated, truth_again.late),
        "Summary::secured {truth_again:?}"
    );
    truth
}

#[test]
fn drops_duplicates_and_reordering_in_one_relay_are_told_as_they_were_on_every_channel() {
    let truth = every_channel_tells_the_truth(Mangling {
        drop: 8,
        duplicate: 5,
        hold_back: 8,
    });
    assert!(
        truth.lost > 20 && truth.duplicated > 10 && truth.late > 10,
        "{truth:?}"
    );
}

#[test]
fn reordering_alone_is_never_told_as_a_loss_in_net() {
    let truth = every_channel_tells_the_truth(Mangling {
        drop: 0,
        duplicate: 0,
        hold_back: 10,
    });
    assert_eq!(truth.lost, 0);
    assert!(truth.late > 20, "{truth:?}");
}

#[test]
fn a_sender_whose_clock_is_30_s_ahead_invents_no_losses() {
    let key = Key::new();
    let peer = loopback_socket();
    let mut chat = secured(&peer, &key.file, &["--format", "json"]);
    let to = chat.bound_addr();
    // It began 10 s before the receiver, by real time, and had sent 500
    // lines; its clock says both are 30 s later than they are.
    let ahead = 30_000;
    let started = now_ms() - 10_000 + ahead;
    for sequence in [500, 501, 503] {
        let fields = sealing::Fields {
            kind: sealing::LINE,
            session: 42,
            started,
            sequence,
            sent: now_ms() + ahead,
            to,
        };
        peer.send_to(&key.seal(&fields, format!("line {sequence}").as_bytes()), to)
            .unwrap();
    }
    let texts: Vec<serde_json::Value> = (0..4)
        .map(|_| serde_json::from_slice(&chat.line()).unwrap())
        .collect();
    assert_eq!(texts[0]["text"], "line 500", "{texts:?}");
    assert_eq!(texts[2]["lost"], 1, "only 502: {texts:?}");
    chat.close_stdin();
    let (_, stderr) = chat.exit_code();
    assert!(stderr.contains("secured: 1 line lost"), "{stderr}");
}

/// Sockets on 127.0.0.1, as many source ports as a flood comes from.
fn sources(count: usize) -> Vec<UdpSocket> {
    (0..count)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect()
}

#[test]
fn a_flood_from_thousands_of_ports_gets_a_few_warnings_and_objects_a_second_and_a_real_warning_still_comes() {
    let key = Key::new();
    let peer = loopback_socket();
    // Keeps the JSON objects about lines, not the lines.
    let mut chat = Udpchat::with_peer_adjusted(
        &peer,
        &["--secret-file", key.file.path(), "--format", "json"],
        |_| {},
    );
    let to = chat.bound_addr();
    let started = now_ms() - 60_000;
    let recorded = key.line(1, started, 0, to, "recorded once");
    peer.send_to(&recorded, to).unwrap();
    assert!(String::from_utf8(chat.line()).unwrap().contains("recorded once"));
    // Replayed, and forged, from 5,000 ports: more than any table of
    // sources udpchat had, for 3 seconds (bounded by time and count).
    let flood = sources(5_000);
    let forged = {
        let mut forged = recorded.clone();
        forged[sealing::HEADER_LEN] ^= 1;
        forged
    };
    let began = Instant::now();
    let mut sent = 0u64;
    'flood: for _round in 0..1_000 {
        for socket in &flood {
            let _ = socket.send_to(&recorded, to);
            let _ = socket.send_to(&forged, to);
            sent += 2;
            if began.elapsed() >= Duration::from_secs(3) {
                break 'flood;
            }
        }
    }
    let flooded = began.elapsed();
    // A real peer whose clock is 2 minutes behind is still warned about,
    // however full any table is: its datagram is sent until it is told.
    let slow = key.seal(
        &sealing::Fields {
            kind: sealing::LINE,
            session: 2,
            started: now_ms() - 200_000,
            sequence: 0,
            sent: now_ms() - 120_000,
            to,
        },
        b"from a slow clock",
    );
    let deadline = Instant::now() + TIMEOUT;
    let warned = loop {
        peer.send_to(&slow, to).unwrap();
        if let Some(line) = chat.try_stderr_line_containing("by its clock", Duration::from_millis(200)) {
            break line;
        }
        assert!(Instant::now() < deadline, "no clock warning:\n{}", chat.stderr());
    };
    let elapsed = began.elapsed();
    assert!(
        warned.contains(&format!(
            "from {} was sent 2 min ago by its clock",
            peer.local_addr().unwrap()
        )),
        "{warned}"
    );
    chat.close_stdin();
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    let mut objects = Vec::new();
    while let Some(line) = chat.try_line(Duration::ZERO) {
        objects.push(serde_json::from_slice::<serde_json::Value>(&line).unwrap());
    }
    let seconds = elapsed.as_secs() + 1;
    let warnings = stderr
        .lines()
        .filter(|line| line.starts_with("udpchat: warning:"))
        .count() as u64;
    eprintln!(
        "{sent} datagrams from 5000 ports in {flooded:?}: {warnings} warning lines and {} JSON objects in {elapsed:?}",
        objects.len()
    );
    // Five lines a second, ten objects, and what the end tells.
    assert!(
        warnings <= 5 * seconds + 12,
        "{warnings} warnings in {elapsed:?}:\n{stderr}"
    );
    assert!(
        objects.len() as u64 <= 10 * seconds + 1,
        "{} objects in {elapsed:?}",
        objects.len()
    );
    assert!(
        stderr.contains("more like it since"),
        "the folded count is told:\n{stderr}"
    );
    assert!(stderr.contains("from other senders came twice"), "{stderr}");
    assert!(
        objects.iter().any(|object| object["folded"].as_u64() > Some(0)),
        "{objects:?}"
    );
    let duplicated: u64 = objects
        .iter()
        .filter_map(|object| object["duplicated"].as_u64())
        .sum();
    assert!(
        stderr.contains(&format!("0 lines lost, {duplicated} duplicated")),
        "{duplicated}\n{stderr}"
    );
}

#[test]
fn a_key_holder_flooding_fresh_sessions_locks_nobody_out() {
    let key = Key::new();
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    // Keeps the lines that are not the flood's.
    let mut chat = Udpchat::start_keeping(
        &["--secret-file", key.file.path(), "-b", "127.0.0.1:0", &peer_addr],
        |_| {},
        |line| !line.starts_with(b"flood"),
    );
    let to = chat.bound_addr();
    // 4,096 sessions is the table's size: a thousand more.
    let started = now_ms() - 60_000;
    for session in 0..4096 + 1000 {
        peer.send_to(&key.line(1000 + session, started, 0, to, "flood"), to)
            .unwrap();
        if session % 256 == 255 {
            // Let the receiver keep up, so that the kernel drops none.
            peer.send_to(&key.line(1000 + session, started, 1, to, "mark"), to)
                .unwrap();
            assert_eq!(chat.text_line(), "mark");
        }
    }
    // A peer that restarted (a udpchat, a new session) is shown at once.
    let to_text = to.to_string();
    let mut restarted = Udpchat::start(&["--secret-file", key.file.path(), "-b", "127.0.0.1:0", &to_text]);
    restarted.send("back after a restart\n");
    assert_eq!(chat.text_line(), "back after a restart");
    restarted.close_stdin();
    assert_eq!(restarted.exit_code().0, Some(0));
    chat.close_stdin();
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("0 datagrams rejected"), "{stderr}");
}

#[test]
fn ends_of_input_replayed_or_forged_by_the_thousand_are_told_a_few_times_a_second_at_most() {
    let key = Key::new();
    let peer = loopback_socket();
    // -v, where an end of input is told.
    let mut chat = secured(&peer, &key.file, &[]);
    let to = chat.bound_addr();
    let started = now_ms() - 60_000;
    let end = |session, lines| {
        let fields = sealing::Fields {
            kind: sealing::END,
            session,
            started,
            sequence: lines,
            sent: now_ms(),
            to,
        };
        key.seal(&fields, b"")
    };
    let recorded = end(1, 3);
    let began = Instant::now();
    for session in 0..2_000 {
        // One end of input, recorded and replayed; and those of fresh
        // sessions, as a holder of the secret can send them.
        peer.send_to(&recorded, to).unwrap();
        peer.send_to(&end(100 + session, 0), to).unwrap();
        if session % 256 == 255 || session == 1_999 {
            // Let the receiver keep up, so that the kernel drops none.
            peer.send_to(&key.line(2, started, session, to, "mark"), to)
                .unwrap();
            assert_eq!(chat.text_line(), "mark");
        }
    }
    let seconds = began.elapsed().as_secs() + 1;
    chat.close_stdin();
    let (code, stderr) = chat.exit_code();
    assert_eq!(code, Some(0), "{stderr}");
    let from = peer.local_addr().unwrap();
    assert!(
        stderr.contains(&format!("{from} ended its input after 3 lines")),
        "{stderr}"
    );
    let told = occurrences(&stderr, "ended its input") as u64;
    assert!(
        told <= 5 * seconds,
        "{told} ends told in {seconds} s:\n{}",
        &stderr[..stderr.len().min(2_000)]
    );
}
