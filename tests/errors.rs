//! Bad command lines and failing binds: one clear line on stderr, the documented exit status, no panic.

mod common;

use std::process::Command;

use common::{loopback_socket, run, run_via};

/// The first line of stderr: the one a user reads. clap adds a hint after a blank line.
fn first_line(stderr: &str) -> &str {
    stderr.lines().next().unwrap_or("")
}

#[test]
fn each_bad_command_line_gets_one_clear_line_and_its_exit_status() {
    let in_use = loopback_socket();
    let in_use = in_use.local_addr().unwrap().to_string();
    let cases: &[(&[&str], i32, &str)] = &[
        (&[], 2, "required arguments were not provided"),
        (&["host"], 2, "missing port"),
        (&["host:"], 2, "missing port"),
        (&[":2323"], 2, "missing host"),
        (&["host:99999"], 2, "'99999' is not a number from 1 to 65535"),
        (&["host:0"], 2, "port 0 cannot be sent to"),
        (&["[::1"], 2, "missing ']'"),
        (&["::1:2323"], 2, "needs brackets"),
        (
            &["127.0.0.1:9", "--linger", "soon"],
            2,
            "invalid value 'soon' for '--linger",
        ),
        (
            &["127.0.0.1:9", "--bind", "1.2.3.4:99999"],
            2,
            "invalid value '1.2.3.4:99999' for '--bind",
        ),
        (
            &["127.0.0.1:9", "--frobnicate"],
            2,
            "unexpected argument '--frobnicate'",
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
        (
            &["no-such-host.invalid:9"],
            1,
            "cannot resolve 'no-such-host.invalid:9'",
        ),
        (&["-b", &in_use, "127.0.0.1:9"], 1, "Address already in use"),
        // TEST-NET-1 is never assigned to a local interface: the bind fails, nothing is sent.
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
        if *code == 1 {
            assert_eq!(stderr.lines().count(), 1, "udpchat {args:?}: {stderr}");
            assert!(stderr.starts_with("udpchat: "), "udpchat {args:?}: {stderr}");
        }
    }
}

#[test]
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
            eprintln!("skipped: running as root without setpriv to drop privileges");
            return;
        }
    };
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "udpchat: cannot bind 127.0.0.1:1: Permission denied (os error 13)"
    );
}
