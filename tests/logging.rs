//! What udpchat says on stderr at each verbosity: -v, -q, -qq and RUST_LOG.

// Unix only: the input is piped in by sh, which Windows does not have.
#![cfg(all(feature = "cli", unix))]

mod common;

use common::{loopback_socket, run_via};

/// Runs a chat that reports at info level (its bound address) and at error
/// level (a line too long to send), then exits 1 with a final summary line.
fn chat_with_one_bad_line(flags: &[&str], env: &[(&str, &str)]) -> String {
    let peer = loopback_socket().local_addr().unwrap().to_string();
    let script = r#"printf 'ok\n%070000d\n' 0 | "$0" "$@""#;
    let mut args = vec!["-c", script, env!("CARGO_BIN_EXE_udpchat"), "-b", "127.0.0.1:0"];
    args.extend_from_slice(flags);
    args.push(&peer);
    let (code, stderr) = run_via("sh", &args, env);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.ends_with("udpchat: 1 of 2 lines not sent\n"), "{stderr}");
    stderr
}

#[test]
fn shows_warnings_and_errors_by_default() {
    let stderr = chat_with_one_bad_line(&[], &[]);
    assert!(stderr.contains("udpchat: error: line 2 not sent"), "{stderr}");
    assert!(!stderr.contains("info:"), "{stderr}");
}

#[test]
fn verbose_adds_info() {
    let stderr = chat_with_one_bad_line(&["-v"], &[]);
    assert!(stderr.contains("udpchat: info: bound 127.0.0.1:"), "{stderr}");
}

#[test]
fn quiet_keeps_errors_and_twice_quiet_drops_them() {
    let stderr = chat_with_one_bad_line(&["-q"], &[]);
    assert!(stderr.contains("line 2 not sent"), "{stderr}");
    let stderr = chat_with_one_bad_line(&["-qq"], &[]);
    assert!(!stderr.contains("line 2 not sent"), "{stderr}");
}

#[test]
fn rust_log_still_works() {
    let stderr = chat_with_one_bad_line(&[], &[("RUST_LOG", "info")]);
    assert!(stderr.contains("udpchat: info: bound 127.0.0.1:"), "{stderr}");
}

#[test]
fn debug_shows_each_socket_option_asked_for_and_granted() {
    for (flags, env) in [(&["-vv"][..], &[][..]), (&[], &[("RUST_LOG", "debug")])] {
        let stderr = chat_with_one_bad_line(flags, env);
        assert!(
            stderr.contains("udpchat: debug: SO_RCVBUF: asked for 4194304 bytes, granted "),
            "{stderr}"
        );
        if cfg!(target_os = "linux") {
            assert!(stderr.contains("udpchat: debug: IP_RECVERR on"), "{stderr}");
            assert!(stderr.contains("udpchat: debug: SO_RXQ_OVFL on"), "{stderr}");
        }
        assert!(!stderr.contains("trace:"), "{stderr}");
    }
}

#[test]
fn trace_shows_each_line_sent() {
    let stderr = chat_with_one_bad_line(&["-vvv"], &[]);
    assert!(
        stderr.contains("udpchat: trace: line 1 sent: 2 bytes"),
        "{stderr}"
    );
}
