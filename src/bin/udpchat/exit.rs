//! Exit statuses, decided in one place: what each way of ending means to the shell.

use std::process::ExitCode;

use udpchat::{Ended, Error, Summary};

/// The input ended (or stdout was closed) and every line was sent.
pub const SUCCESS: u8 = 0;
/// A runtime failure, or some lines could not be sent.
pub const FAILURE: u8 = 1;
/// A usage error: clap's own status for a bad command line, and ours for an
/// address or interface that cannot be used.
pub const USAGE: u8 = 2;
/// Interrupted: as shells report a death by SIGINT (128 + 2). SIGTERM and
/// SIGHUP give it too: `ctrlc` cannot tell them apart, and each asks the
/// chat to end as Ctrl-C does (SIGHUP when the terminal closed).
pub const INTERRUPTED: u8 = 130;

/// Each exit status and when udpchat exits with it, for `--help` and the man page.
pub const TABLE: &[(u8, &str)] = &[
    (
        SUCCESS,
        "the input ended (or stdout was closed) and every line was sent; with \
         --reliable, every line and the end of input were acknowledged by every peer",
    ),
    (
        FAILURE,
        "a runtime error, or some lines could not be sent; with --reliable, \
         some were not acknowledged (not delivered)",
    ),
    (USAGE, "a usage error"),
    (
        INTERRUPTED,
        "interrupted by Ctrl-C (SIGINT), SIGTERM or SIGHUP (the terminal closed)",
    ),
];

/// The status for a chat that could not start or had to stop.
pub fn of_error(err: &Error) -> ExitCode {
    if matches!(err, Error::Interrupted) {
        return ExitCode::from(INTERRUPTED);
    }
    let usage = matches!(
        err,
        Error::InvalidAddress { .. }
            | Error::NoPeer
            | Error::NotAPeerChat
            | Error::FamilyMismatch { .. }
            | Error::NotMulticast(_)
            | Error::Interface { .. }
            | Error::NoLocalNetworks
            | Error::Secret { .. }
            | Error::SecretFile { .. }
            | Error::RecvBufferRange(_)
            | Error::InvalidName { .. }
            | Error::Reliable(_)
    );
    ExitCode::from(if usage { USAGE } else { FAILURE })
}

/// The status for a chat that ended.
pub fn of_summary(summary: &Summary) -> ExitCode {
    ExitCode::from(match summary.ended {
        Ended::Interrupted => INTERRUPTED,
        Ended::GaveUp => FAILURE,
        _ if summary.lines_not_sent > 0 => FAILURE,
        // Input that ended must have been delivered; output closed ends
        // the chat before that is known, as it does without --reliable.
        Ended::EndOfInput if summary.delivery.as_ref().is_some_and(|d| !d.complete()) => FAILURE,
        Ended::EndOfInput | Ended::OutputClosed => SUCCESS,
    })
}
