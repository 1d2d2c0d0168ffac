//! The `udpchat` binary: arguments in, the library's chat run, an exit status out.

mod cli;
mod exit;
mod help;
mod terminal;

use std::io::{self, BufReader, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use log::info;
use udpchat::{Chat, Ended, Error, ShutdownHandle};

fn main() -> ExitCode {
    let args = cli::parse();
    args.init_logging();
    match run(&args) {
        Ok(code) => code,
        Err(err) => {
            report(format_args!("{err}"));
            exit::of_error(&err)
        }
    }
}

fn run(args: &cli::Args) -> Result<ExitCode, Error> {
    if args.generate == Some(cli::Generated::Secret) {
        return cli::write_secret().map(|()| ExitCode::SUCCESS);
    }
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
    // At -v, what the chat did, drops included, so a lossy transfer is visible.
    info!("{summary}");
    if let Some(not_sent) = summary.not_sent()
        && summary.ended != Ended::Interrupted
    {
        report(format_args!("{not_sent}"));
    }
    Ok(exit::of_summary(&summary))
}

/// Prints `udpchat: MESSAGE` on stderr as one write. Unlike `eprintln!` it
/// does not panic when stderr is a closed pipe: the exit status still tells.
fn report(message: std::fmt::Arguments) {
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
            std::process::exit(exit::INTERRUPTED.into());
        }
        handle.interrupt();
    })
    .map_err(|err| Error::Io {
        op: "handle Ctrl-C",
        source: io::Error::other(err),
    })
}
