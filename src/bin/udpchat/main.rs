//! The `udpchat` binary: arguments in, the library's chat run, an exit status out.

mod addr;
mod cli;
mod demo;
mod exit;
mod help;
mod hints;
mod logging;
mod meter;
mod names;
mod preflight;
mod signals;
mod terminal;
// The library's own throttle, compiled in here too: see its `//!` for why.
#[path = "../../throttle.rs"]
mod throttle;
mod words;

use std::io::{self, BufReader, IsTerminal, Write};
use std::net::{Ipv6Addr, SocketAddr};
use std::process::ExitCode;

use hints::Failure;
use log::{info, warn};
use udpchat::{Chat, Destination, Ended, Error};

fn main() -> ExitCode {
    let args = cli::parse();
    args.init_logging();
    match run(&args) {
        Ok(code) => code,
        // Ctrl-C while looking for a peer: nothing to say.
        Err(Failure {
            error: Error::Interrupted,
            ..
        }) => exit::of_error(&Error::Interrupted),
        Err(Failure { error, hint }) => {
            report(format_args!("{error}"));
            if let Some(hint) = hint {
                report(format_args!("hint: {hint}"));
            }
            exit::of_error(&error)
        }
    }
}

fn run(args: &cli::Args) -> Result<ExitCode, Failure> {
    if args.demo {
        return Ok(demo::run().map(|()| ExitCode::SUCCESS)?);
    }
    if args.generate == Some(cli::Generated::Secret) {
        return Ok(cli::write_secret().map(|()| ExitCode::SUCCESS)?);
    }
    if let Some(generated) = args.generate {
        return match generated.write(&mut io::stdout().lock()) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
            Err(source) => Err(Error::Io {
                op: "write the generated file",
                source,
            }
            .into()),
        };
    }
    if args.list {
        return Ok(names::list(args)?);
    }
    if preflight::stdout_was_closed() {
        report(format_args!(
            "standard output is closed (>&-), so every line received would be lost; \
             to throw them away, say so with >/dev/null"
        ));
        return Ok(ExitCode::from(exit::USAGE));
    }
    let interactive = !args.recv_only && terminal::is_interactive();
    if interactive {
        // Before the Ctrl-C handler starts its thread.
        terminal::prepare();
    }
    signals::install()?;
    // Peers by name, for a chat without a name of its own: found before it
    // binds. A chat with a name binds and advertises it first, then looks,
    // so that two looking for each other both find each other.
    let found_first = if args.name.is_none() && !args.peer_names().is_empty() {
        match names::look_up_first(args, interactive)? {
            Ok(found) => found,
            Err(status) => return Ok(status),
        }
    } else {
        Vec::new()
    };
    let dual_stack = SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0));
    let found_addrs: Vec<SocketAddr> = found_first
        .iter()
        .filter_map(|found| found.addr_for(&dual_stack))
        .collect();
    let mut config = args.to_config_with(&found_addrs)?;
    // Enter on an empty line sends nothing, as in other chat programs: an
    // empty datagram would end a netcat or socat peer's session.
    config.skip_empty |= interactive;
    // At a terminal, each typed line gives a peer given up a fresh chance.
    config.reliable = config
        .reliable
        .map(|reliable| reliable.keeping_trying(interactive));
    let secured = config.secret.is_some();
    let peers = match &config.destination {
        Destination::Peers { peers, .. } => Some(peers.clone()),
        _ => None,
    };
    let mut chat = Chat::bind(config).map_err(|error| Failure::binding(error, peers.as_deref()))?;
    if let (Some(asked), Some(granted)) = (args.recv_buffer, chat.recv_buffer()) {
        // Linux reports twice what it grants (see Config::recv_buffer): only
        // far less than asked is worth a word at the default verbosity.
        if granted < asked / 2 {
            warn!("{}", cli::recv_buffer_shortfall(asked, granted));
        }
    }
    signals::attach(chat.shutdown_handle(), chat.progress());
    for found in &found_first {
        let addr = chat.add_peer(found)?;
        names::tell_found(found, &addr, args.secured());
    }
    if args.name.is_some()
        && let Some(status) = names::find_for(&mut chat, args, interactive)?
    {
        return Ok(status);
    }
    let summary = if interactive {
        terminal::run(chat, &args.prompt_names(secured))?
    } else if meter::wanted(args.quiet > 0, args.recv_only) {
        let input = meter::start(
            BufReader::with_capacity(64 * 1024, io::stdin()),
            chat.progress(),
            args.reliable,
        );
        // Received lines share the terminal with the bar when stdout is one.
        let ran = if io::stdout().is_terminal() {
            chat.run(input, meter::AroundTheBar(io::stdout()))
        } else {
            chat.run(input, io::stdout())
        };
        meter::clear();
        ran?
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
    if let Some(delivery) = &summary.delivery {
        let read = summary.lines_sent + summary.lines_not_sent;
        for shortfall in delivery.shortfalls(read) {
            report(format_args!("{shortfall}"));
        }
        if summary.ended == Ended::GaveUp {
            report(format_args!(
                "gave up on every peer: the rest of the input was not read"
            ));
        }
    }
    Ok(exit::of_summary(&summary))
}

/// Prints `udpchat: MESSAGE` on stderr as one write. Unlike `eprintln!` it
/// does not panic when stderr is a closed pipe: the exit status still tells.
pub(crate) fn report(message: std::fmt::Arguments) {
    let line = format!("udpchat: {message}\n");
    let _ = io::stderr().lock().write_all(line.as_bytes());
}
