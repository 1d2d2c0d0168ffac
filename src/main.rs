//! The `udpchat` binary: arguments in, the library's chat run, an exit status out.

mod cli;
mod help;

use std::io::{self, BufReader};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use log::info;
use udpchat::{Chat, Ended, Error, ShutdownHandle, Summary, terminal};

/// Exit status after Ctrl-C or SIGTERM, as shells report a SIGINT death (128 + 2).
const EXIT_INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    let args = cli::parse();
    args.init_logging();
    match run(&args) {
        Ok(code) => code,
        Err(err) => {
            report(format_args!("{err}"));
            ExitCode::from(if err.is_usage() { 2 } else { 1 })
        }
    }
}

fn run(args: &cli::Args) -> Result<ExitCode, Error> {
    if let Some(generated) = args.generate {
        return match generated.write(&mut io::stdout().lock()) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
            Err(source) => Err(Error::Io {
                op: "write the generated file",
                source,
            }),
        };
    }
    let interactive = !args.recv_only && terminal::is_interactive();
    if interactive {
        // Before the Ctrl-C handler starts its thread.
        terminal::prepare();
    }
    let chat = Chat::bind(args.to_config()?)?;
    on_interrupt(chat.shutdown_handle())?;
    let summary = if interactive {
        terminal::run(chat, &args.talking_to())?
    } else {
        let input = BufReader::with_capacity(64 * 1024, io::stdin());
        chat.run(input, io::stdout())?
    };
    log_summary(&summary);
    Ok(match summary.ended {
        Ended::Interrupted => ExitCode::from(EXIT_INTERRUPTED),
        _ if summary.lines_not_sent > 0 => {
            report(format_args!(
                "{} of {} not sent",
                summary.lines_not_sent,
                count(summary.lines_not_sent + summary.lines_sent, "line")
            ));
            ExitCode::FAILURE
        }
        Ended::EndOfInput | Ended::OutputClosed => ExitCode::SUCCESS,
    })
}

/// At `-v`, what the chat did, drops included, so a lossy transfer is visible.
fn log_summary(summary: &Summary) {
    let dropped = match summary.datagrams_dropped {
        Some(dropped) => format!("{dropped} dropped by the kernel"),
        None => "drops not countable on this system".to_owned(),
    };
    info!(
        "{} sent, {} received, {dropped}",
        count(summary.lines_sent, "line"),
        count(summary.datagrams_received, "datagram")
    );
}

/// `1 line`, `2 lines`: a number and what it counts, read as English.
fn count(number: u64, noun: &str) -> String {
    if number == 1 {
        format!("1 {noun}")
    } else {
        format!("{number} {noun}s")
    }
}

/// Prints `udpchat: MESSAGE` on stderr as one write. Unlike `eprintln!` it
/// does not panic when stderr is a closed pipe: the exit status still tells.
fn report(message: std::fmt::Arguments) {
    use std::io::Write;
    let line = format!("udpchat: {message}\n");
    let _ = io::stderr().lock().write_all(line.as_bytes());
}

/// Ctrl-C and SIGTERM stop the chat cleanly; a second one quits at once,
/// in case something is stuck.
fn on_interrupt(handle: ShutdownHandle) -> Result<(), Error> {
    static INTERRUPTED: AtomicBool = AtomicBool::new(false);
    ctrlc::set_handler(move || {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            terminal::restore();
            std::process::exit(EXIT_INTERRUPTED.into());
        }
        handle.interrupt();
    })
    .map_err(|err| Error::Io {
        op: "handle Ctrl-C",
        source: io::Error::other(err),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_english_for_one_and_for_many() {
        assert_eq!(count(0, "line"), "0 lines");
        assert_eq!(count(1, "line"), "1 line");
        assert_eq!(count(2, "datagram"), "2 datagrams");
    }
}
