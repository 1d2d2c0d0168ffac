//! Finding each other by name: udpchats with `--name` in two network namespaces joined by a veth pair, `--list`, Avahi on either side, a hostile responder.
//!
//! Multicast DNS goes only over interfaces inside namespaces each test makes
//! (`common::Netns`): udpchat, Avahi and the test responder run in them,
//! never on this machine's own interfaces. Where namespaces, Avahi or D-Bus
//! are missing, a test fails under `CI=true` and says why and skips elsewhere.
#![cfg(target_os = "linux")]
#![cfg(feature = "cli")]

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Netns, TIMEOUT, Udpchat, skip_or_fail, unique_number, wait_until_up};
use crossbeam_channel::Receiver;
use nix::sys::signal::Signal;
use wait_timeout::ChildExt;

const BIN: &str = env!("CARGO_BIN_EXE_udpchat");
const A: &str = "10.97.0.1";
const B: &str = "10.97.0.2";

/// Two hosts, A (10.97.0.1 on `va`) and B (10.97.0.2 on `vb`), each a
/// namespace with its loopback up, joined by a veth pair that leads
/// nowhere else.
struct TwoHosts {
    a: Netns,
    b: Netns,
}

fn two_hosts() -> Option<TwoHosts> {
    let b = Netns::new(&[&["link", "set", "lo", "up"]])?;
    let a = Netns::new(&[
        &["link", "set", "lo", "up"],
        &[
            "link",
            "add",
            "va",
            "type",
            "veth",
            "peer",
            "name",
            "vb",
            "netns",
            b.name(),
        ],
        &["addr", "add", "10.97.0.1/24", "dev", "va"],
        &["link", "set", "va", "up"],
    ])?;
    for args in [
        &["addr", "add", "10.97.0.2/24", "dev", "vb"][..],
        &["link", "set", "vb", "up"],
    ] {
        if !b.ip(args) {
            skip_or_fail(format_args!("cannot set up namespace B (ip {})", args.join(" ")));
            return None;
        }
    }
    // mdns-sd lists the interfaces once, at its start: they must be up.
    wait_until_up(&a, "va");
    wait_until_up(&b, "vb");
    Some(TwoHosts { a, b })
}

/// Runs `udpchat ARGS` to its end in `netns`; returns status, stdout, stderr and how long it took.
fn run_in(netns: &Netns, args: &[&str]) -> (Option<i32>, String, String, Duration) {
    let start = Instant::now();
    let mut all = vec!["netns", "exec", netns.name(), BIN];
    all.extend_from_slice(args);
    let output = common::output_via("ip", &all, &[]);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        start.elapsed(),
    )
}

/// `udpchat --list` in `netns`, run until it lists every one of `names`
/// (a udpchat just started may still be probing for its name), bounded.
fn list_until(netns: &Netns, extra: &[&str], names: &[&str]) -> (String, Duration) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let mut args = vec!["--list"];
        args.extend_from_slice(extra);
        let (code, stdout, stderr, took) = run_in(netns, &args);
        assert_eq!(code, Some(0), "{stderr}");
        if names.iter().all(|name| stdout.contains(name)) {
            return (stdout, took);
        }
        assert!(
            Instant::now() < deadline,
            "not all of {names:?} listed:\n{stdout}{stderr}"
        );
    }
}

#[test]
fn two_udpchats_find_each_other_by_name_in_either_start_order_and_chat() {
    for alice_first in [true, false] {
        let Some(lan) = two_hosts() else { return };
        let (first, second) = if alice_first {
            (&lan.a, &lan.b)
        } else {
            (&lan.b, &lan.a)
        };
        let (first_args, second_args): (&[&str], &[&str]) = if alice_first {
            (
                &["--name", "alice", "--show-sender", "bob"],
                &["--name", "bob", "--format", "json", "alice"],
            )
        } else {
            (
                &["--name", "bob", "--format", "json", "alice"],
                &["--name", "alice", "--show-sender", "bob"],
            )
        };
        let first = Udpchat::start_in(first, first_args);
        // The first is looking already when the second starts: it finds the
        // second when the second announces itself; the second finds the
        // first by asking.
        first.stderr_line_containing("looking for");
        let second = Udpchat::start_in(second, second_args);
        let (mut alice, mut bob) = if alice_first {
            (first, second)
        } else {
            (second, first)
        };
        assert!(
            alice.stderr_line_containing("found bob at ").contains(B),
            "{}",
            alice.stderr()
        );
        assert!(
            bob.stderr_line_containing("found alice at ").contains(A),
            "{}",
            bob.stderr()
        );
        alice.send("hello bob\n");
        let line = bob.text_line();
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(json["name"], "alice", "{line}");
        assert_eq!(json["text"], "hello bob", "{line}");
        assert!(json["from"].as_str().unwrap().starts_with(A), "{line}");
        bob.send("hi alice\n");
        // --show-sender: the line is labelled with the name, not the address.
        assert_eq!(alice.text_line(), "<bob> hi alice");
        alice.close_stdin();
        bob.close_stdin();
        for chat in [&mut alice, &mut bob] {
            let (code, stderr) = chat.exit_code();
            assert_eq!(code, Some(0), "{stderr}");
        }
    }
}

#[test]
fn several_peers_by_name_and_secured_chats_are_labelled_by_name() {
    let Some(lan) = two_hosts() else { return };
    let secret = common::SecretFile::secret();
    let secured = ["--secret-file", secret.path()];
    let mut bob = Udpchat::start_in(&lan.b, &[&secured[..], &["--name", "bob", "alice"]].concat());
    let mut carol = Udpchat::start_in(
        &lan.b,
        &[&secured[..], &["--name", "carol", "-b", "4000", "alice"]].concat(),
    );
    let mut alice = Udpchat::start_in(
        &lan.a,
        &[&secured[..], &["--name", "alice", "bob", "carol"]].concat(),
    );
    alice.stderr_line_containing("found carol");
    bob.stderr_line_containing("found alice");
    carol.stderr_line_containing("found alice");
    bob.send("from bob\n");
    assert_eq!(alice.text_line(), "<bob> from bob");
    carol.send("from carol\n");
    assert_eq!(alice.text_line(), "<carol> from carol");
    alice.send("to both\n");
    assert_eq!(bob.text_line(), "to both");
    assert_eq!(carol.text_line(), "to both");
    let (listed, _) = list_until(&lan.a, &[], &["alice", "bob", "carol"]);
    for name in ["alice", "bob", "carol"] {
        let row = listed.lines().find(|row| row.starts_with(name)).unwrap();
        assert!(row.contains("secured"), "{listed}");
    }
    for chat in [&mut alice, &mut bob, &mut carol] {
        chat.close_stdin();
        let (code, stderr) = chat.exit_code();
        assert_eq!(code, Some(0), "{stderr}");
    }
}

#[test]
fn list_shows_each_udpchat_with_its_port_and_addresses_in_text_and_json() {
    let Some(lan) = two_hosts() else { return };
    let _alice = Udpchat::start_in(&lan.a, &["--name", "alice", &format!("{B}:9")]);
    let _bob = Udpchat::start_in(&lan.b, &["--name", "bob", "-b", "4000", &format!("{A}:9")]);
    let (text, took) = list_until(&lan.b, &[], &["alice", "bob"]);
    assert!(took < Duration::from_secs(5), "--list took {took:?}");
    let rows: Vec<Vec<&str>> = text.lines().map(|row| row.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(rows[0][..4], ["alice", "2323", "plain", A], "{text}");
    assert_eq!(rows[1][..4], ["bob", "4000", "plain", B], "{text}");
    let (json, _) = list_until(&lan.a, &["--format", "json"], &["alice", "bob"]);
    let objects: Vec<serde_json::Value> = json
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(objects.len(), 2, "{json}");
    assert_eq!(objects[1]["name"], "bob");
    assert_eq!(objects[1]["port"], 4000);
    assert_eq!(objects[1]["secured"], false);
    assert_eq!(objects[1]["addresses"][0], B);
}

#[test]
fn a_name_nobody_answers_to_ends_with_status_1_and_the_likely_causes() {
    let Some(lan) = two_hosts() else { return };
    let (code, _, stderr, took) = run_in(&lan.a, &["--wait-for-peer", "1s", "--name", "alice", "bob"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    for cause in ["is it running", "UDP port 5353", "another subnet", "HOST:PORT"] {
        assert!(stderr.contains(cause), "{cause}: {stderr}");
    }
    // Piped input without --wait-for-peer waits 30 s: said in --help.
    let (_, help, _, _) = run_in(&lan.a, &["--help"]);
    assert!(help.contains("30s with piped input"), "{help}");
    // Its own name is no peer.
    let (code, _, stderr, _) = run_in(&lan.a, &["--name", "alice", "alice"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("own name"), "{stderr}");
}

#[test]
fn a_second_udpchat_with_a_taken_name_is_renamed_and_told() {
    let Some(lan) = two_hosts() else { return };
    let _first = Udpchat::start_in(&lan.a, &["--name", "alice", &format!("{B}:9")]);
    list_until(&lan.b, &[], &["alice"]);
    let second = Udpchat::start_in(&lan.b, &["--name", "alice", &format!("{A}:9")]);
    let told = second.stderr_line_containing("is taken on the LAN");
    assert!(told.contains("alice (2)"), "{told}");
    let (listed, _) = list_until(&lan.b, &["--format", "json"], &["alice (2)"]);
    let names: Vec<String> = listed
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["name"].to_string())
        .collect();
    assert_eq!(names, ["\"alice\"", "\"alice (2)\""], "{listed}");
}

#[test]
fn the_name_is_withdrawn_on_sigterm_and_on_a_second_ctrl_c_that_quits_at_once() {
    let Some(lan) = two_hosts() else { return };
    let Some(avahi) = Avahi::start(&lan.b, "vb") else {
        return;
    };
    let browse = avahi.browse_events(&lan.b);
    // SIGTERM: the chat ends as for Ctrl-C.
    let alice = Udpchat::start_in(&lan.a, &["--name", "alice", &format!("{B}:9")]);
    browse.wait_for("+;vb;IPv4;alice;");
    alice.signal(Signal::SIGTERM);
    browse.wait_for("-;vb;IPv4;alice;");
    // A second Ctrl-C while the first cannot end the chat (its stdout is a
    // full pipe nobody reads): quits at once, and withdraws the name first.
    let (reader, mut writer) = std::io::pipe().unwrap();
    nix::fcntl::fcntl(&reader, nix::fcntl::FcntlArg::F_SETPIPE_SZ(4096)).unwrap();
    let capacity = nix::fcntl::fcntl(&reader, nix::fcntl::FcntlArg::F_GETPIPE_SZ).unwrap();
    std::io::Write::write_all(&mut writer, &vec![b'.'; usize::try_from(capacity).unwrap()]).unwrap();
    let carol = Udpchat::start_in_with(
        &lan.a,
        &["-v", "--name", "carol", &format!("{B}:2323")],
        |command| {
            command.stdout(Stdio::from(writer));
        },
    );
    browse.wait_for("+;vb;IPv4;carol;");
    let mut peer = Udpchat::start_in(&lan.b, &[&format!("{A}:2323")]);
    peer.send("a line carol cannot write\n");
    carol.stderr_line_containing(": shown");
    carol.signal(Signal::SIGINT);
    // The second Ctrl-C must come after the first had time to act: that
    // time is the behaviour under test, not a wait for something to happen.
    std::thread::sleep(Duration::from_millis(600));
    carol.signal(Signal::SIGINT);
    browse.wait_for("-;vb;IPv4;carol;");
    let mut carol = carol;
    let (code, stderr) = carol.exit_code();
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("quitting at once"), "{stderr}");
    drop(reader);
    peer.close_stdin();
}

#[test]
fn avahi_lists_a_udpchat_and_udpchat_finds_what_avahi_publishes() {
    let Some(lan) = two_hosts() else { return };
    let Some(avahi) = Avahi::start(&lan.b, "vb") else {
        return;
    };
    // Avahi's browser lists a udpchat with --name, with its TXT record.
    let alice = Udpchat::start_in(&lan.a, &["--name", "alice", "--recv-only", &format!("{B}:4100")]);
    let resolved = avahi.browse_until(&lan.b, "=;vb;IPv4;alice;");
    assert!(resolved.contains(&format!(";{A};2323;")), "{resolved}");
    for txt in ["\"v=1\"", "\"secured=no\"", "\"id="] {
        assert!(resolved.contains(txt), "{txt}: {resolved}");
    }
    // A service Avahi publishes is listed, and found by name.
    let mut publish = avahi
        .command(&lan.b, "avahi-publish-service")
        .args(["bob", "_udpchat._udp", "4100", "v=1", "secured=no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (listed, _) = list_until(&lan.a, &[], &["bob"]);
    let row = listed.lines().find(|row| row.starts_with("bob")).unwrap();
    assert!(row.contains("4100") && row.contains(B), "{listed}");
    // udpchat beside a running avahi-daemon, on the same host: both share
    // port 5353, and Avahi's browser there sees it too.
    let mut bob = Udpchat::start_in(&lan.b, &["-b", "4100", &format!("{A}:2323")]);
    let mut by_name = Udpchat::start_in(&lan.a, &["--wait-for-peer", "10s", "-b", "2324", "bob"]);
    by_name.stderr_line_containing("found bob");
    by_name.send("to the name avahi published\n");
    assert_eq!(bob.text_line(), "to the name avahi published");
    let beside = Udpchat::start_in(&lan.b, &["--name", "dave", "-b", "4200", &format!("{A}:9")]);
    avahi.browse_until(&lan.b, "=;vb;IPv4;dave;");
    list_until(&lan.a, &[], &["dave"]);
    let _ = publish.kill();
    let _ = publish.wait();
    by_name.close_stdin();
    bob.close_stdin();
    drop((alice, beside));
}

#[test]
fn a_room_member_labels_the_others_with_their_names() {
    let Some(lan) = two_hosts() else { return };
    let port = common::free_port().to_string();
    let room = ["--broadcast", &port, "--broadcast-addr", "10.97.0.255"];
    let mut alice = Udpchat::start_in(&lan.a, &[&room[..], &["--name", "alice"]].concat());
    let mut bob = Udpchat::start_in(&lan.b, &[&room[..], &["--name", "bob"]].concat());
    // Each browses for the others' names while it is in the room.
    list_until(&lan.a, &[], &["alice", "bob"]);
    // Names come when the others' records have arrived: speak until they have.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        bob.send("from bob\n");
        let line = alice.text_line();
        if line == "<bob> from bob" {
            break;
        }
        assert!(line.ends_with("> from bob"), "{line}");
        assert!(Instant::now() < deadline, "never labelled by name: {line}");
    }
    alice.send("from alice\n");
    loop {
        let line = bob.text_line();
        if line == "<alice> from alice" {
            break;
        }
        assert!(Instant::now() < deadline, "never labelled by name: {line}");
        alice.send("from alice\n");
    }
}

#[test]
fn a_hostile_responder_costs_bounded_memory_never_blocks_the_chat_and_shows_escaped() {
    let Some(lan) = two_hosts() else { return };
    // A chat that browses all the time: a room member with a name.
    let port = common::free_port().to_string();
    let room = ["--broadcast", &port, "--broadcast-addr", "10.97.0.255"];
    let mut alice = Udpchat::start_in(&lan.a, &[&room[..], &["--name", "alice"]].concat());
    let mut bob = Udpchat::start_in(&lan.b, &room);
    alice.stderr_line_containing("chatting in");
    bob.stderr_line_containing("chatting in");
    bob.send("before\n");
    assert!(alice.text_line().ends_with("> before"));
    let before = alice.memory();
    // Names that try to act on a terminal, to reorder text, or to hide;
    // two that differ in case alone; then thousands of services with 1 KiB
    // TXT records, each sent three times.
    let hostile = [r"evil\x1b[2Jname", r"\u202eecila", r"al\u200bice", "Twin", "twin"];
    let mut flood = responder(&lan.b, &hostile.join(","), 3000, 10, 1000, 200);
    // The chat goes on meanwhile.
    let start = Instant::now();
    let mut said = 0;
    while flood.try_wait().unwrap().is_none() && start.elapsed() < TIMEOUT {
        bob.send(format!("during {said}\n"));
        assert!(alice.text_line().ends_with(&format!("> during {said}")));
        said += 1;
    }
    assert!(
        flood.wait_timeout(TIMEOUT).unwrap().is_some(),
        "the responder did not finish"
    );
    bob.send("after\n");
    assert!(alice.text_line().ends_with("> after"));
    let after = alice.memory();
    eprintln!(
        "alice: {said} lines during the flood; VmHWM {} KiB before, {} KiB after (VmRSS {} KiB); stderr:\n{}",
        before.peak_kib,
        after.peak_kib,
        after.rss_kib,
        alice.stderr()
    );
    assert!(
        after.peak_kib < before.peak_kib + 64 * 1024,
        "more than 64 MiB for a flood of 3,000 services: {before:?} -> {after:?}"
    );
    // --list, while the names keep coming, lists at most 1,024, names escaped.
    let mut flood = responder(&lan.b, &hostile.join(","), 3000, 40, 200, 100);
    let (code, listed, stderr, took) = run_in(&lan.a, &["--list"]);
    let _ = flood.kill();
    let _ = flood.wait();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(listed.lines().count() <= 1024, "{}", listed.lines().count());
    for line in listed.lines() {
        assert!(
            !line
                .chars()
                .any(|c| c.is_control() || ('\u{200b}'..='\u{202e}').contains(&c)),
            "{line:?}"
        );
    }
    for escaped in [r"evil\x1b[2Jname", r"\u{202e}ecila", r"al\u{200b}ice"] {
        assert!(listed.contains(escaped), "{escaped} not in the list:\n{listed}");
    }
    // Two that answer to one name (in all but case): a lookup refuses to
    // guess, and names both.
    let mut twins = responder(&lan.b, "Twin,twin", 2, 300, 0, 100);
    let (code, _, stderr, _) = run_in(&lan.a, &["--wait-for-peer", "5s", "twin"]);
    let _ = twins.kill();
    let _ = twins.wait();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("2 udpchats answer to the name twin"), "{stderr}");
    assert!(
        stderr.contains("Twin on port") && stderr.contains("twin on port"),
        "{stderr}"
    );
    alice.close_stdin();
    bob.close_stdin();
}

/// The hostile responder (`tests/common/mdns_responder.py`) in `netns`:
/// `names` first, then numbered services up to `services`, each with a TXT
/// record of `txt` bytes, all sent `rounds` times, `pause_ms` apart.
fn responder(netns: &Netns, names: &str, services: usize, rounds: usize, txt: usize, pause_ms: u64) -> Child {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/common/mdns_responder.py");
    netns
        .command("python3")
        .arg(script)
        .args([B, B])
        .args([
            "--services",
            &services.to_string(),
            "--rounds",
            &rounds.to_string(),
        ])
        .args(["--txt", &txt.to_string(), "--pause", &pause_ms.to_string()])
        .args(["--names", names])
        .stdout(Stdio::null())
        .spawn()
        .expect("run python3")
}

/// avahi-daemon inside a namespace, on a D-Bus system bus of its own (a
/// `dbus-daemon` with a configuration in a directory of the test's), so
/// `avahi-browse` and `avahi-publish-service` work there and nothing
/// touches this machine's own bus or daemon. Its pid file is in a tmpfs
/// mounted in the namespace's private mount namespace.
struct Avahi {
    dir: PathBuf,
    bus: String,
    dbus: Child,
    daemon: Child,
}

impl Avahi {
    fn start(netns: &Netns, interface: &str) -> Option<Avahi> {
        for tool in [
            "dbus-daemon",
            "avahi-daemon",
            "avahi-browse",
            "avahi-publish-service",
        ] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            if !found {
                skip_or_fail(format_args!(
                    "{tool} is not installed (apt-get install avahi-daemon avahi-utils dbus)"
                ));
                return None;
            }
        }
        let dir = std::env::temp_dir().join(format!(
            "udpchat-avahi-{}-{}",
            std::process::id(),
            unique_number()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("bus");
        std::fs::write(
            dir.join("dbus.conf"),
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("avahi.conf"),
            format!(
                "[server]\nuse-ipv4=yes\nuse-ipv6=yes\nallow-interfaces={interface}\nenable-dbus=yes\n\
                 ratelimit-interval-usec=0\n[publish]\npublish-hinfo=no\npublish-workstation=no\n"
            ),
        )
        .unwrap();
        let mut dbus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", dir.join("dbus.conf").display()))
            .args(["--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run dbus-daemon");
        let mut address = String::new();
        BufReader::new(dbus.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        let bus = address.trim().to_owned();
        if bus.is_empty() {
            let _ = dbus.kill();
            let _ = dbus.wait();
            skip_or_fail("dbus-daemon printed no address");
            return None;
        }
        let config = dir.join("avahi.conf");
        let mut daemon = netns
            .command("sh")
            .args([
                "-c",
                "mkdir -p /run/avahi-daemon && mount -t tmpfs udpchat-test /run/avahi-daemon \
                 && exec avahi-daemon --no-drop-root --no-chroot --no-rlimits -f \"$0\"",
            ])
            .arg(&config)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &bus)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run avahi-daemon");
        let (tx, started) = crossbeam_channel::unbounded();
        let stderr = BufReader::new(daemon.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let avahi = Avahi {
            dir,
            bus,
            dbus,
            daemon,
        };
        let deadline = Instant::now() + TIMEOUT;
        let mut said = String::new();
        loop {
            match started.recv_deadline(deadline) {
                Ok(line) if line.contains("Server startup complete") => return Some(avahi),
                Ok(line) => said.push_str(&format!("{line}\n")),
                Err(_) => panic!("avahi-daemon did not start:\n{said}"),
            }
        }
    }

    /// `program` in `netns`, on this Avahi's bus.
    fn command(&self, netns: &Netns, program: &str) -> Command {
        let mut command = netns.command(program);
        command.env("DBUS_SYSTEM_BUS_ADDRESS", &self.bus);
        command
    }

    /// `avahi-browse -rpt _udpchat._udp` until a line starts with `prefix`; returns it.
    fn browse_until(&self, netns: &Netns, prefix: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let mut child = self
                .command(netns, "avahi-browse")
                .args(["-rpt", "_udpchat._udp"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let listed = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
            let _ = child.wait_timeout(TIMEOUT);
            if let Some(line) = listed.lines().find(|line| line.starts_with(prefix)) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "avahi-browse never listed {prefix}:\n{listed}"
            );
        }
    }

    /// `avahi-browse -p _udpchat._udp`, running: its lines as they come.
    fn browse_events(&self, netns: &Netns) -> Browse {
        let mut child = self
            .command(netns, "avahi-browse")
            .args(["-p", "_udpchat._udp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, lines) = crossbeam_channel::unbounded();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Browse { child, lines }
    }
}

impl Drop for Avahi {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let _ = self.dbus.kill();
        let _ = self.dbus.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running `avahi-browse -p`.
struct Browse {
    child: Child,
    lines: Receiver<String>,
}

impl Browse {
    /// Waits for a line that starts with `prefix` (`+;vb;IPv4;alice;` when
    /// a service appears, `-;...` when it is withdrawn).
    fn wait_for(&self, prefix: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.lines.recv_deadline(deadline) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(_) => panic!("avahi-browse said no {prefix} within {TIMEOUT:?}"),
            }
        }
    }
}

impl Drop for Browse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Set for the test binary run inside a namespace by
/// `library_users_advertise_look_up_and_chat_by_name`.
const IN_NAMESPACE: &str = "UDPCHAT_TEST_IN_NAMESPACE";

#[test]
fn library_users_advertise_look_up_and_chat_by_name() {
    // The library opens its mDNS sockets in the process that calls it: this
    // test runs its other half, below, in a namespace of its own.
    let Some(lan) = two_hosts() else { return };
    let exe = std::env::current_exe().unwrap();
    let inner = "by_name_through_the_library_api";
    let mut child = lan
        .a
        .command(exe.to_str().unwrap())
        .args(["--exact", inner, "--ignored", "--nocapture", "--test-threads=1"])
        .env(IN_NAMESPACE, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let stderr = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    // Several lookups and a --list, each a second or two: a bound of its own.
    let status = child.wait_timeout(3 * TIMEOUT).unwrap();
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let said = stdout.join().unwrap() + &stderr.join().unwrap();
    let status =
        status.unwrap_or_else(|| panic!("the inner test did not finish within {:?}:\n{said}", 3 * TIMEOUT));
    assert!(status.success(), "{said}");
    assert!(said.contains("1 passed"), "the inner test did not run:\n{said}");
}

#[test]
#[ignore = "run in a namespace by library_users_advertise_look_up_and_chat_by_name"]
fn by_name_through_the_library_api() {
    use std::io::Cursor;
    use udpchat::{Chat, Config, Ended};
    assert!(
        std::env::var_os(IN_NAMESPACE).is_some(),
        "opens mDNS sockets: only inside the namespace its outer test makes"
    );
    let any = "0.0.0.0:0".parse().unwrap();
    let named = |name: &str, recv_only: bool| {
        let mut config = Config::peers(Vec::new(), any);
        config.name = Some(name.to_owned());
        config.show_sender = true;
        config.recv_only = recv_only;
        Chat::bind(config).unwrap()
    };
    let mut alice = named("alice", false);
    let mut bob = named("bob", true);
    let wait = Some(TIMEOUT);
    let found = bob.lookup("alice", wait).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].port, alice.local_addr().port());
    assert_eq!(found[0].secured, Some(false));
    bob.add_peer(&found[0]).unwrap();
    eprintln!("inner: looked up alice");
    let found = alice.lookup("bob", wait).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    alice.add_peer(&found[0]).unwrap();
    eprintln!("inner: looked up bob");
    // A chat never finds itself.
    assert!(
        alice
            .lookup("alice", Some(Duration::from_millis(1500)))
            .unwrap()
            .is_empty()
    );
    let listed = udpchat::discover::list(Duration::from_secs(2)).unwrap();
    let names: Vec<&str> = listed.iter().map(|found| found.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    eprintln!("inner: listed");
    // A lookup that waits for ever ends when its chat is interrupted.
    let carol = named("carol", false);
    let stop_carol = carol.shutdown_handle();
    let waiting = std::thread::spawn(move || carol.lookup("nobody", None));
    stop_carol.interrupt();
    let looked = waiting.join().unwrap();
    assert!(matches!(looked, Err(udpchat::Error::Interrupted)), "{looked:?}");
    eprintln!("inner: lookup interrupted");
    let (screen, bob_output) = std::io::pipe().unwrap();
    let stop_bob = bob.shutdown_handle();
    let bob = std::thread::spawn(move || bob.run(std::io::empty(), bob_output));
    let said = alice.run(Cursor::new("hello bob\n"), std::io::sink()).unwrap();
    assert_eq!((said.ended, said.lines_sent), (Ended::EndOfInput, 1));
    eprintln!("inner: alice ran");
    let mut line = String::new();
    BufReader::new(screen).read_line(&mut line).unwrap();
    assert_eq!(line, "<alice> hello bob\n");
    stop_bob.interrupt();
    assert_eq!(bob.join().unwrap().unwrap().ended, Ended::Interrupted);
}
