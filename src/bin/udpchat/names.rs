//! Names on the LAN for the command line: `--list`, and peers given by name, looked up before the chat starts.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use log::{info, warn};
use udpchat::discover::{self, Found};
use udpchat::{Chat, Error};

use crate::cli::{Args, OutputFormat};

/// How long `--list` listens for answers: responders answer a query within
/// 120 ms, and the second query goes out after 1 s.
pub const LIST_FOR: Duration = Duration::from_secs(2);

/// How long a peer given by name is looked for when the input is not a
/// terminal, unless `--wait-for-peer` says: long enough to start the other
/// side by hand.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// `--list`: every udpchat that answers within [`LIST_FOR`], one a line.
pub fn list(args: &Args) -> Result<ExitCode, Error> {
    let found = discover::list(LIST_FOR)?;
    let mut out = Vec::new();
    match args.format {
        OutputFormat::Json => {
            for service in &found {
                out.extend_from_slice(service.to_json().as_bytes());
                out.push(b'\n');
            }
        }
        OutputFormat::Text => {
            let width = found
                .iter()
                .map(|service| service.shown_name().chars().count())
                .max()
                .unwrap_or(0);
            for service in &found {
                let name = service.shown_name();
                let pad = width - name.chars().count();
                let secured = match service.secured {
                    Some(true) => "secured",
                    Some(false) => "plain",
                    None => "unknown",
                };
                let addrs: Vec<String> = service.addrs.iter().map(address_text).collect();
                let _ = writeln!(
                    out,
                    "{name}{:pad$}  {:>5}  {secured:<7}  {}",
                    "",
                    service.port,
                    addrs.join(" ")
                );
            }
        }
    }
    if found.is_empty() && args.quiet == 0 {
        crate::report(format_args!(
            "no udpchat answered on the LAN within {} s{}",
            LIST_FOR.as_secs(),
            LIKELY_CAUSES_LIST
        ));
    }
    match io::stdout().lock().write_all(&out) {
        Err(err) if err.kind() != io::ErrorKind::BrokenPipe => Err(Error::Io {
            op: "write the list",
            source: err,
        }),
        _ => Ok(ExitCode::SUCCESS),
    }
}

const LIKELY_CAUSES_LIST: &str = " (none advertised with --name, a firewall blocking multicast DNS, UDP port 5353, \
     or they are on another subnet: mDNS does not cross routers)";

/// An address as `--list` shows it: `10.0.0.5`, `fe80::1%eth0`.
fn address_text(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V6(v6) if v6.scope_id() != 0 => {
            let zone = if_name(v6.scope_id()).unwrap_or_else(|| v6.scope_id().to_string());
            format!("{}%{zone}", v6.ip())
        }
        other => other.ip().to_string(),
    }
}

/// The name of the interface with `index`, as a zone is written.
fn if_name(index: u32) -> Option<String> {
    if_addrs::get_if_addrs()
        .ok()?
        .into_iter()
        .find(|interface| interface.index == Some(index))
        .map(|interface| interface.name)
}

/// How long to look for a peer by name: `--wait-for-peer`, else until found
/// at a terminal (the user sees it looking, and Ctrl-C stops it), else
/// [`DEFAULT_WAIT`].
pub fn wait(args: &Args, interactive: bool) -> Option<Duration> {
    match args.wait_for_peer {
        Some(wait) => Some(wait),
        None if interactive => None,
        None => Some(DEFAULT_WAIT),
    }
}

/// The one udpchat that answers to `name`, from what a lookup found; an
/// error naming the likely causes when none did, or naming all when
/// several did (udpchat does not guess between two).
pub fn the_one(name: &str, found: Vec<Found>, waited: Option<Duration>) -> Result<Found, String> {
    let shown = udpchat::display::Style::sanitize_text(name.as_bytes());
    match found.len() {
        0 => Err(format!(
            "no udpchat named {shown} answered on the LAN{}: is it running (udpchat --name {shown})? \
             Or a firewall blocks multicast DNS (UDP port 5353), or it is on another subnet \
             (mDNS does not cross routers): then give its HOST:PORT",
            waited
                .map(|wait| format!(" within {}", humantime::format_duration(wait)))
                .unwrap_or_default()
        )),
        1 => Ok(found.into_iter().next().expect("one")),
        _ => {
            let all: Vec<String> = found
                .iter()
                .map(|found| {
                    let addrs: Vec<String> = found.addrs.iter().map(address_text).collect();
                    format!(
                        "{} on port {} at {}",
                        found.shown_name(),
                        found.port,
                        addrs.join(" ")
                    )
                })
                .collect();
            Err(format!(
                "{} udpchats answer to the name {shown} on the LAN: {}; give the one you mean as HOST:PORT",
                found.len(),
                all.join("; ")
            ))
        }
    }
}

/// Says, once the peer is found, what udpchat will do with it, and warns
/// when the two chats cannot read each other (one secured, one not).
pub fn tell_found(found: &Found, addr: &SocketAddr, secured: bool) {
    info!("found {} at {addr}", found.shown_name());
    match found.secured {
        Some(theirs) if theirs != secured => warn!(
            "{} {}: neither side will show the other's lines",
            found.shown_name(),
            if theirs {
                "holds a secured chat and this one is plain (--secret-file)"
            } else {
                "holds a plain chat and this one is secured"
            }
        ),
        _ => {}
    }
}

/// Looks up every peer given by name, for a chat that advertises no name
/// of its own: before it binds, so that its default bind address can
/// follow the peers' IP family. Returns what was found, in order, or the
/// exit status when one was not found (the error said).
pub fn look_up_first(args: &Args, interactive: bool) -> Result<Result<Vec<Found>, ExitCode>, Error> {
    let wait = wait(args, interactive);
    let mut all = Vec::new();
    for name in args.peer_names() {
        looking_for(args, name, interactive);
        match the_one(name, discover::lookup(name, wait)?, wait) {
            Ok(found) => all.push(found),
            Err(message) => {
                crate::report(format_args!("error: {message}"));
                return Ok(Err(ExitCode::from(crate::exit::FAILURE)));
            }
        }
    }
    Ok(Ok(all))
}

/// Looks up every peer given by name for a bound chat (which advertises its
/// own name meanwhile, so the other side finds it too, whichever started
/// first), and adds each to it. Ctrl-C stops the wait: `Error::Interrupted`.
pub fn find_for(chat: &mut Chat, args: &Args, interactive: bool) -> Result<Option<ExitCode>, Error> {
    let wait = wait(args, interactive);
    let secured = args.secured();
    for name in args.peer_names() {
        if args
            .name
            .as_deref()
            .is_some_and(|own| own.eq_ignore_ascii_case(name))
        {
            crate::report(format_args!(
                "error: {} is this udpchat's own name (--name): name the other side",
                udpchat::display::Style::sanitize_text(name.as_bytes())
            ));
            return Ok(Some(ExitCode::from(crate::exit::USAGE)));
        }
        looking_for(args, name, interactive);
        let found = chat.lookup(name, wait)?;
        match the_one(name, found, wait) {
            Ok(found) => {
                let addr = chat.add_peer(&found)?;
                tell_found(&found, &addr, secured);
            }
            Err(message) => {
                crate::report(format_args!("error: {message}"));
                return Ok(Some(ExitCode::from(crate::exit::FAILURE)));
            }
        }
    }
    Ok(None)
}

/// "looking for bob on the LAN": said unless `-q` (the user waits, and
/// should know on what), as an info line at `-v`.
fn looking_for(args: &Args, name: &str, interactive: bool) {
    let shown = udpchat::display::Style::sanitize_text(name.as_bytes());
    if args.verbose > 0 {
        info!("looking for {shown} on the LAN");
    } else if args.quiet == 0 {
        let until = match wait(args, interactive) {
            None => "Ctrl-C to stop".to_owned(),
            Some(wait) => format!("for up to {}", humantime::format_duration(wait)),
        };
        crate::report(format_args!("looking for {shown} on the LAN... ({until})"));
    }
}
