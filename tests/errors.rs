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
            "invalid value '-5' for '--rate <LINES_PER_SECOND>': a rate must be positive",
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
        // udpchat's own errors, runtime or usage, are one line; clap's add a hint.
        if *code == 1 || stderr.starts_with("udpchat: ") {
            assert_eq!(stderr.lines().count(), 1, "udpchat {args:?}: {stderr}");
            assert!(stderr.starts_with("udpchat: "), "udpchat {args:?}: {stderr}");
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

#[test]
fn a_port_in_use_says_who_holds_it_and_how_to_pick_another() {
    let in_use = loopback_socket();
    let addr = in_use.local_addr().unwrap();
    let (code, stderr) = run(&["-b", &addr.to_string(), "127.0.0.1:9"]);
    assert_eq!(code, Some(1), "{stderr}");
    let mut lines = stderr.lines();
    assert!(lines.next().unwrap().contains(ADDRESS_IN_USE), "{stderr}");
    let hint = lines.next().unwrap_or_default();
    let next = format!("-b 127.0.0.1:{}", addr.port() + 1);
    assert!(
        hint.starts_with("udpchat: hint: ") && hint.contains(&next),
        "{stderr}"
    );
    if cfg!(target_os = "linux") {
        // This test process holds the port.
        let holder = format!("(pid {})", std::process::id());
        assert!(hint.contains(&holder), "{stderr}");
    }
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
