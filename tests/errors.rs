//! Bad command lines and failing binds: one clear line on stderr, the documented exit status, no panic.

#![cfg(feature = "cli")]

mod common;

use std::ffi::OsString;
use std::process::{Command, Stdio};

use common::{TIMEOUT, loopback_socket, run, run_via};
use wait_timeout::ChildExt;

/// A peer whose host no resolver can look up, and none tries: its first
/// label is 64 characters, one more than DNS allows (RFC 1035), so the
/// resolver fails without sending a query. (`no-such-host.invalid` would
/// send one to the system's name server: tests stay on loopback.)
fn unresolvable_peer() -> String {
    format!("{}.invalid:9", "a".repeat(64))
}

/// How the system words EADDRINUSE: Windows' WSAEADDRINUSE is 10048, and
/// its text varies with the language (Wine has none).
const ADDRESS_IN_USE: &str = if cfg!(windows) {
    "(os error 10048)"
} else {
    "Address already in use"
};

/// The first line of stderr: the one a user reads. clap adds a hint after a blank line.
fn first_line(stderr: &str) -> &str {
    stderr.lines().next().unwrap_or("")
}

#[test]
fn each_bad_command_line_gets_one_clear_line_and_its_exit_status() {
    let unresolvable = unresolvable_peer();
    let cannot_resolve = format!("cannot resolve '{unresolvable}'");
    let cases: &[(&[&str], i32, &str)] = &[
        (&[], 2, "required arguments were not provided"),
        // A bare word is a name to look up on the LAN (tests/discovery.rs);
        // one with a dot, or an address, still lacks its port.
        (&["pc-b.lan"], 2, "missing port"),
        (&["10.0.0.1"], 2, "missing port"),
        (&["host:"], 2, "missing port"),
        (&[":2323"], 2, "missing host"),
        (&["host:99999"], 2, "'99999' is not a number from 1 to 65535"),
        (&[":99999"], 2, "missing host"),
        (&["host:x"], 2, "'x' is not a number from 1 to 65535"),
        (
            &["256.1.1.1:9"],
            2,
            "'256.1.1.1' is not a host name or IP address",
        ),
        (&["bad host:9"], 2, "'bad host' is not a host name or IP address"),
        (&["host:0"], 2, "port 0 cannot be sent to"),
        (&["[::1"], 2, "missing ']'"),
        (&["[::1]"], 2, "missing port after ']'"),
        (&["[nope]:9"], 2, "'nope' is not an IPv6 address"),
        (&["[fe80::1%]:9"], 2, "empty zone after '%'"),
        (
            &["[fe80::1%nosuchif0]:9"],
            2,
            "no network interface named 'nosuchif0'",
        ),
        (&["::1:2323"], 2, "needs brackets"),
        (&["pc-a.lan:2323,pc-b.lan:2323"], 2, "one address per argument"),
        (
            &["127.0.0.1:9", "--linger", "soon"],
            2,
            "invalid value 'soon' for '--linger",
        ),
        (
            &["127.0.0.1:9", "--linger=-1s"],
            2,
            "invalid value '-1s' for '--linger",
        ),
        (
            &["127.0.0.1:9", "--linger", "1e400"],
            2,
            "invalid value '1e400' for '--linger",
        ),
        (
            &["127.0.0.1:9", "--linger"],
            2,
            "a value is required for '--linger",
        ),
        (
            &["127.0.0.1:9", "--bind", "1.2.3.4:99999"],
            2,
            "invalid value '1.2.3.4:99999' for '--bind",
        ),
        (&["127.0.0.1:9", "--bind", ""], 2, "invalid value '' for '--bind"),
        (
            &["127.0.0.1:9", "-b", "127.0.0.1:0", "-b", "127.0.0.1:1"],
            2,
            "cannot be used multiple times",
        ),
        (
            &["127.0.0.1:9", "--frobnicate"],
            2,
            "unexpected argument '--frobnicate'",
        ),
        (
            &["127.0.0.1:9", "--recv-buffer", "lots"],
            2,
            "invalid value 'lots' for '--recv-buffer",
        ),
        (
            &["127.0.0.1:9", "--rate", "0"],
            2,
            "invalid value '0' for '--rate",
        ),
        // Issue 12.2: values the kernel would wrap (4G became 2,304 bytes) or
        // raise silently are refused, naming the range.
        (
            &["127.0.0.1:9", "--recv-buffer", "4G"],
            2,
            "out of range: a receive buffer is from 1K (1024) to 1G (1073741824) bytes",
        ),
        (
            &["127.0.0.1:9", "--recv-buffer", "0"],
            2,
            "out of range: a receive buffer is from 1K",
        ),
        (
            &["127.0.0.1:9", "--recv-buffer", "1"],
            2,
            "out of range: a receive buffer is from 1K",
        ),
        // Issue 13.7: each message says what was wrong, in the user's terms.
        (
            &["-b", "65536", "127.0.0.1:9"],
            2,
            "port 65536 is out of range: a port is a number from 0 to 65535",
        ),
        (
            &["127.0.0.1:9", "--linger", "abc"],
            2,
            "a duration is a number with a unit, e.g. 2s, 500ms or 1m 30s",
        ),
        (
            &["127.0.0.1:9", "--rate", "-5"],
            2,
            "invalid value '-5' for '--rate <PER_SECOND>': a rate must be positive",
        ),
        (
            &["127.0.0.1:9", "--accept-any=yes"],
            2,
            "unexpected value 'yes' for '--accept-any'",
        ),
        (
            &["127.0.0.1:9", "--peer", "127.0.0.1:99999"],
            2,
            "invalid value '127.0.0.1:99999' for '--peer",
        ),
        (
            &["--group", "192.0.2.1:9"],
            2,
            "192.0.2.1 is not a multicast address",
        ),
        (&["--group", "239.255.0.1:0"], 2, "port 0 cannot be sent to"),
        (&["--broadcast", "0"], 2, "invalid value '0' for '--broadcast"),
        (
            &["--group", "239.255.0.1:9", "127.0.0.1:9"],
            2,
            "the argument '[HOST:PORT|NAME]...' cannot be used with '--group",
        ),
        (
            &["--broadcast", "9", "-b", "127.0.0.1:0"],
            2,
            "the argument '--bind <ADDR>' cannot be used with '--broadcast",
        ),
        (
            &["--broadcast", "9", "--interface", "lo"],
            2,
            "'--interface <IF>' cannot be used with '--broadcast <PORT>': it is for a --group room",
        ),
        (
            &["--broadcast", "9", "--ttl", "0"],
            2,
            "'--ttl <HOPS>' cannot be used with '--broadcast <PORT>': it is for a --group room",
        ),
        (
            &["--group", "239.255.0.1:9", "--broadcast-addr", "127.255.255.255"],
            2,
            "'--broadcast-addr <IPV4>' cannot be used with '--group <GROUP:PORT>': it is for a --broadcast room",
        ),
        (
            &["--broadcast", "9", "--peer", "127.0.0.1:9"],
            2,
            "the argument '--peer <HOST:PORT|NAME>' cannot be used with",
        ),
        (
            &["--broadcast", "9", "--group", "239.255.0.1:9"],
            2,
            "cannot be used with",
        ),
        (
            &["--ttl", "2", "127.0.0.1:9"],
            2,
            "required arguments were not provided",
        ),
        (
            &["--interface", "lo", "127.0.0.1:9"],
            2,
            "required arguments were not provided",
        ),
        (
            &["--allow", "127.0.0.1", "127.0.0.1:9"],
            2,
            "required arguments were not provided",
        ),
        (
            &["--broadcast", "9", "--allow", "10.0.0.0/33"],
            2,
            "invalid value '10.0.0.0/33' for '--allow",
        ),
        (
            &["--group", "239.255.0.1:9", "--ttl", "256"],
            2,
            "256 is not in 0..=255",
        ),
        (
            &["--group", "239.255.0.1:9", "--interface", "nosuchif0"],
            2,
            "invalid interface 'nosuchif0': no network interface named 'nosuchif0'",
        ),
        // An interface this host does not have, however named, for either family.
        (
            &["--group", "[ff12::1]:9", "--interface", "nosuchif0"],
            2,
            "invalid interface 'nosuchif0': no network interface named 'nosuchif0'",
        ),
        (
            &["--group", "239.255.0.1:9", "--interface", "999999"],
            2,
            "invalid interface '999999': no network interface with index 999999",
        ),
        (
            &["--group", "[ff12::1]:9", "--interface", "999999"],
            2,
            "invalid interface '999999': no network interface with index 999999",
        ),
        (
            &["--group", "[ff12::1%999999]:9"],
            2,
            "invalid value '[ff12::1%999999]:9' for '--group <GROUP:PORT>': no network interface with index 999999",
        ),
        // A peer's zone: an index no interface has is refused as a name is.
        (
            &["[fe80::1%999999]:9"],
            2,
            "invalid address '[fe80::1%999999]:9': no network interface with index 999999",
        ),
        // TEST-NET-1 is never assigned to a host.
        (
            &["--group", "239.255.0.1:9", "--interface", "192.0.2.1"],
            2,
            "invalid interface '192.0.2.1': no network interface of this host has the address 192.0.2.1",
        ),
        (
            &["--group", "[ff12::1]:9", "--interface", "127.0.0.1"],
            2,
            "invalid interface '127.0.0.1': an IPv6 room's interface is a name or an index",
        ),
        (&["127.0.0.1:9", "-v", "-q"], 2, "cannot be used with"),
        (
            &["127.0.0.1:9", "--format", "xml"],
            2,
            "invalid value 'xml' for '--format",
        ),
        (
            &["127.0.0.1:9", "--timestamps=iso"],
            2,
            "invalid value 'iso' for '--timestamps",
        ),
        (
            &["127.0.0.1:9", "--color", "sometimes"],
            2,
            "invalid value 'sometimes' for '--color",
        ),
        (
            &["127.0.0.1:9", "--raw", "--sanitize", "always"],
            2,
            "cannot be used with",
        ),
        (&["-b", "127.0.0.1:0", "[::1]:9"], 2, "different IP families"),
        (&["-b", "[::1]:0", "127.0.0.1:9"], 2, "different IP families"),
        (&[&unresolvable], 1, &cannot_resolve),
        // TEST-NET-1 is never assigned to a local interface: the bind fails, nothing is sent.
        // Not under Wine, which lets the bind succeed where Windows refuses
        // it (WSAEADDRNOTAVAIL); the wake-up datagram would then leave the host.
        #[cfg(not(windows))]
        (
            &["-b", "192.0.2.1:2323", "127.0.0.1:9"],
            1,
            "cannot bind 192.0.2.1:2323",
        ),
    ];
    for (args, code, message) in cases {
        let (got, stderr) = run(args);
        assert_eq!(got, Some(*code), "udpchat {args:?}: {stderr}");
        assert!(
            first_line(&stderr).contains(message),
            "udpchat {args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "udpchat {args:?}: {stderr}");
        // udpchat's own errors, runtime or usage, are one line, and where
        // udpchat can tell what to do, a hint; clap's add a hint of theirs.
        if *code == 1 || stderr.starts_with("udpchat: ") {
            let lines: Vec<&str> = stderr.lines().collect();
            assert!(lines[0].starts_with("udpchat: "), "udpchat {args:?}: {stderr}");
            assert!(
                lines.len() == 1 || (lines.len() == 2 && lines[1].starts_with("udpchat: hint: ")),
                "udpchat {args:?}: {stderr}"
            );
        }
    }
}

/// `caf?:9` with a `?` that is not Unicode: a Latin-1 byte on Unix, an
/// unpaired surrogate on Windows, whose arguments are UTF-16.
fn not_utf8_argument() -> OsString {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        OsString::from_vec(b"caf\xe9:9".to_vec())
    }
    #[cfg(windows)]
    {
        use std::os::windows::ffi::OsStringExt;
        let text: Vec<u16> = "caf"
            .encode_utf16()
            .chain([0xD800])
            .chain(":9".encode_utf16())
            .collect();
        OsString::from_wide(&text)
    }
}

#[test]
fn rejects_an_argument_that_is_not_utf8() {
    let (code, stderr) = run(&[not_utf8_argument()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(first_line(&stderr).contains("invalid UTF-8"), "{stderr}");
}

#[test]
fn rejects_a_malformed_bind_address_from_the_environment_naming_the_variable() {
    let bin = env!("CARGO_BIN_EXE_udpchat");
    let (code, stderr) = run_via(bin, &["127.0.0.1:9"], &[("UDPCHAT_BIND", "nonsense")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        first_line(&stderr).contains("invalid value 'nonsense' in the environment variable UDPCHAT_BIND"),
        "{stderr}"
    );
}

#[test]
fn a_bad_peer_from_the_environment_names_the_variable() {
    let bin = env!("CARGO_BIN_EXE_udpchat");
    let (code, stderr) = run_via::<&str>(bin, &[], &[("UDPCHAT_PEER", "pc-b.lan")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        first_line(&stderr).contains(
            "invalid value 'pc-b.lan' in the environment variable UDPCHAT_PEER (the peer): missing port"
        ),
        "{stderr}"
    );
}

/// The port `hint` suggests binding, from its `-b 127.0.0.1:PORT`.
fn suggested_port(hint: &str) -> u16 {
    hint.split("-b 127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no -b 127.0.0.1:PORT in {hint:?}"))
}

/// The `udpchat: hint:` line after a port-in-use error, checked.
fn address_in_use_hint(stderr: &str) -> String {
    let mut lines = stderr.lines();
    assert!(lines.next().unwrap().contains(ADDRESS_IN_USE), "{stderr}");
    let hint = lines.next().unwrap_or_default();
    assert!(hint.starts_with("udpchat: hint: "), "{stderr}");
    hint.to_owned()
}

#[test]
fn a_port_in_use_says_who_holds_it_and_how_to_pick_another() {
    let in_use = loopback_socket();
    let addr = in_use.local_addr().unwrap();
    let (code, stderr) = run(&["-b", &addr.to_string(), "127.0.0.1:9"]);
    assert_eq!(code, Some(1), "{stderr}");
    let hint = address_in_use_hint(&stderr);
    let free = suggested_port(&hint);
    assert!(free != addr.port() && free != 9, "{hint}");
    assert!(
        hint.contains(&format!("give the other side 127.0.0.1:{free} as its peer")),
        "{hint}"
    );
    if cfg!(target_os = "linux") {
        // This test process holds the port.
        let holder = format!("(pid {})", std::process::id());
        assert!(hint.contains(&holder), "{stderr}");
    }
}

/// Runs `command` (on Linux, which can say who holds a port), which binds
/// 127.0.0.1:`port`, until it has; `None` (after [`common::skip_or_fail`])
/// where it cannot run.
#[cfg(target_os = "linux")]
fn holding(command: &[&str], port: u16) -> Option<std::process::Child> {
    let mut child = match Command::new(command[0])
        .args(&command[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(err) => {
            common::skip_or_fail(format_args!("cannot run {}: {err}", command[0]));
            return None;
        }
    };
    let local = format!("0100007F:{port:04X} ");
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !std::fs::read_to_string("/proc/net/udp").unwrap().contains(&local) {
        assert!(child.try_wait().unwrap().is_none(), "{command:?} exited");
        assert!(std::time::Instant::now() < deadline, "{command:?} never bound");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Some(child)
}

/// Two ports in a row that were free a moment ago.
#[cfg(target_os = "linux")]
fn two_free_ports() -> u16 {
    (0..100)
        .find_map(|_| {
            let first = common::free_port();
            let second = first.checked_add(1)?;
            std::net::UdpSocket::bind(("127.0.0.1", second)).ok()?;
            Some(first)
        })
        .expect("two free ports in a row")
}

/// The hint names the program that holds the port as it was run (nc,
/// python3, another udpchat: not "a second udpchat" whatever it is), never
/// suggests the peer's port (the next one, here) nor a port in use (the one
/// after, held too), and the bind it suggests works.
#[test]
#[cfg(target_os = "linux")]
fn a_port_in_use_names_its_holder_and_suggests_a_free_port_that_is_not_the_peers() {
    let python = "import socket, sys\n\
                  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                  s.bind(('127.0.0.1', int(sys.argv[1])))\n\
                  sys.stdin.read()";
    for holder in ["nc", "python3", "udpchat"] {
        let port = two_free_ports();
        let (port_text, peer) = (port.to_string(), format!("127.0.0.1:{}", port + 1));
        let bind = format!("127.0.0.1:{port}");
        let command: Vec<&str> = match holder {
            "nc" => vec!["nc", "-u", "-l", "127.0.0.1", &port_text],
            "python3" => vec!["python3", "-c", python, &port_text],
            _ => vec![env!("CARGO_BIN_EXE_udpchat"), "-b", &bind, "127.0.0.1:9"],
        };
        let Some(mut child) = holding(&command, port) else {
            return;
        };
        // The port after the peer's is in use too.
        let after = std::net::UdpSocket::bind(("127.0.0.1", port + 2)).ok();
        let (code, stderr) = run(&["-b", &bind, &peer]);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(code, Some(1), "{stderr}");
        let hint = address_in_use_hint(&stderr);
        let named = match holder {
            "udpchat" => format!("held by another udpchat (pid {})", child.id()),
            "nc" => format!("held by nc -u -l 127.0.0.1 {port} (pid {})", child.id()),
            _ => format!("held by python3 -c ... (pid {})", child.id()),
        };
        assert!(hint.contains(&named), "{holder}: {hint}");
        let free = suggested_port(&hint);
        assert!(free != port && free != port + 1, "{holder}: {hint}");
        if after.is_some() {
            assert_ne!(free, port + 2, "{holder}: {hint}");
        }
        drop(after);
        // The bind suggested works.
        let mut chat = common::Udpchat::start(&["-b", &format!("127.0.0.1:{free}"), &peer]);
        assert_eq!(chat.bound_addr().port(), free);
        chat.close_stdin();
        assert_eq!(chat.exit_code().0, Some(0));
    }
}

#[test]
fn a_passphrase_given_to_secret_file_says_where_a_passphrase_goes() {
    let (code, stderr) = run(&["--secret-file", "correct horse", "127.0.0.1:9"]);
    assert_eq!(code, Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with("udpchat: cannot read the secret file correct horse"),
        "{stderr}"
    );
    assert_eq!(
        lines.get(1).copied(),
        Some(
            "udpchat: hint: no such file; to use a passphrase, put it in a file for --secret-file, \
             or in UDPCHAT_SECRET (--secret-file takes a path, never the secret itself)"
        ),
        "{stderr}"
    );
}

#[test]
fn an_ipv6_peer_with_an_ipv4_bind_address_says_which_bind_address_works() {
    let (code, stderr) = run(&["-b", "127.0.0.1:4000", "[::1]:5000"]);
    assert_eq!(code, Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines[0].contains("different IP families"), "{stderr}");
    assert!(
        lines.get(1).is_some_and(
            |hint| hint.starts_with("udpchat: hint: [::1]:5000 is an IPv6 address")
                && hint.contains("-b [::1]:4000")
        ),
        "{stderr}"
    );
    let (code, stderr) = run(&["-b", "[::1]:4000", "127.0.0.1:5000"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("-b 127.0.0.1:4000"), "{stderr}");
}

#[test]
#[cfg(unix)] // closes stdout with sh's >&-, and Windows has no sh
fn a_closed_stdout_is_refused_at_start() {
    // `udpchat ... >&-`: Rust would quietly put /dev/null there and every
    // line received would be lost.
    let script = r#""$0" -b 127.0.0.1:0 127.0.0.1:9 >&-"#;
    let (code, stderr) = run_via("sh", &["-c", script, env!("CARGO_BIN_EXE_udpchat")], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "udpchat: standard output is closed (>&-), so every line received would be lost; \
         to throw them away, say so with >/dev/null"
    );
    // Saying so is fine.
    let script = r#""$0" -b 127.0.0.1:0 127.0.0.1:9 >/dev/null"#;
    let (code, stderr) = run_via("sh", &["-c", script, env!("CARGO_BIN_EXE_udpchat")], &[]);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn the_exit_status_still_tells_when_stderr_is_a_closed_pipe() {
    // As in `udpchat ... 2>&1 | head -n 0`: the message cannot be shown, but
    // it must not turn into a panic (status 101) either.
    let unresolvable = unresolvable_peer();
    for (args, expected) in [(&[unresolvable.as_str()][..], 1), (&["pc-b.lan"][..], 2)] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut child = Command::new(env!("CARGO_BIN_EXE_udpchat"))
            .args(args)
            .stdin(Stdio::null())
            .stderr(writer)
            .spawn()
            .unwrap();
        let status = child.wait_timeout(TIMEOUT).unwrap().expect("udpchat exits");
        assert_eq!(status.code(), Some(expected), "udpchat {args:?}");
    }
}

#[test]
#[cfg(unix)] // Windows lets anyone bind a port below 1024
fn explains_a_bind_the_system_does_not_permit() {
    // Ports below 1024 need privileges: drop them, where we have them to drop.
    let (code, stderr) = match Command::new("setpriv").arg("--version").output() {
        Ok(_) if nix::unistd::geteuid().is_root() => {
            let bin = env!("CARGO_BIN_EXE_udpchat");
            let args = [
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                bin,
                "-b",
                "127.0.0.1:1",
                "127.0.0.1:9",
            ];
            run_via("setpriv", &args, &[])
        }
        _ if !nix::unistd::geteuid().is_root() => run(&["-b", "127.0.0.1:1", "127.0.0.1:9"]),
        _ => {
            common::skip_or_fail("running as root without setpriv (util-linux) to drop privileges");
            return;
        }
    };
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "udpchat: cannot bind 127.0.0.1:1: Permission denied (os error 13)"
    );
}
