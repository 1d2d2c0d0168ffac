//! Command-line arguments, and their conversion into the library's [`Config`].
// The doc comments of `Args` are --help's text: `[::]:2323` there is an
// address, not a link.
#![allow(rustdoc::broken_intra_doc_links)]

use std::io::{self, IsTerminal, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgGroup, CommandFactory, FromArgMatches, Parser, ValueEnum};
use ipnet::IpNet;
use udpchat::display::{Format, Style, Timestamps};
use udpchat::{Config, Destination, Error, Group, Hears, Interface, Reliable, Secret};

use crate::addr::{HostPort, Peer};

/// A full-duplex chat over plain UDP
///
/// Each line you type is sent to the peer as one datagram of exactly its bytes
/// (no header, no newline); each datagram received is printed as one line, at
/// once, while you type. It speaks the same wire format as `nc -u` and `socat`.
#[derive(Debug, Parser)]
#[command(name = "udpchat", version)]
#[command(group(ArgGroup::new("room").args(["broadcast", "group"])))]
pub struct Args {
    /// The peer, e.g. 192.168.1.6:2323, or its NAME on the LAN, or several
    ///
    /// An address or host name and a port: [::1]:2323, [fe80::1%eth0]:2323
    /// (an IPv6 zone, as an interface name or index), pc-b.lan:2323; or the
    /// NAME another udpchat advertises on the LAN (--name), looked up with
    /// multicast DNS. With several peers, each line goes to every one, and
    /// every line received is labelled with its sender. Also read from
    /// UDPCHAT_PEER (one peer; not used in a room).
    #[arg(
        value_name = "HOST:PORT|NAME",
        env = "UDPCHAT_PEER",
        hide_env = true,
        value_parser = parse_peer,
        required_unless_present_any = ["more_peers", "broadcast", "group", "generate", "demo", "list"]
    )]
    pub peers: Vec<Peer>,

    /// One more peer; may be given several times
    #[arg(
        long = "peer",
        value_name = "HOST:PORT|NAME",
        value_parser = parse_peer,
        conflicts_with = "room"
    )]
    pub more_peers: Vec<Peer>,

    /// Where to receive: HOST:PORT, PORT or IP
    ///
    /// A bare IP takes port 2323; a bare PORT, every address of the peer's
    /// family. Default: 0.0.0.0:2323, or [::]:2323 when a peer is IPv6 or
    /// given by NAME, or with --name (dual-stack, so IPv4 peers are reached
    /// too). Also read from
    /// UDPCHAT_BIND (not used in a room).
    #[arg(
        short,
        long,
        value_name = "ADDR",
        env = "UDPCHAT_BIND",
        hide_env = true,
        value_parser = check_bind
    )]
    pub bind: Option<String>,

    /// Go on printing this long after the input ends
    ///
    /// Received lines are printed for this long after the input ends: 2s,
    /// 500ms, 1m 30s, or bare seconds such as 1.5. Default: 0s.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "0s",
        hide_default_value = true,
        value_parser = parse_duration,
        allow_negative_numbers = true
    )]
    pub linger: Duration,

    /// Only print what arrives; do not read stdin
    #[arg(long)]
    pub recv_only: bool,

    /// Do not send the empty lines of a piped file
    ///
    /// An empty line is an empty datagram, which nc -u, ncat -u and socat
    /// take for the end of their input. At a terminal an empty line is
    /// never sent; from a pipe or file it is, unless this is given, so that
    /// another udpchat receives the file as it is.
    #[arg(long, hide_short_help = true)]
    pub skip_empty: bool,

    /// Label each received line with its sender
    ///
    /// Its address, or its name if it was found by name: <192.168.1.6:2323> hi. Off by default, so that a pipe gets the text
    /// alone.
    #[arg(long)]
    pub show_sender: bool,

    /// Show datagrams from any host, not only the peer
    ///
    /// Each other host's line starts with its address. By default only the
    /// peer's IP address is heard, from any port.
    #[arg(long)]
    pub accept_any: bool,

    /// Label received lines with a time (clock, rfc3339)
    ///
    /// The local time: 10:15:03 (clock, the default), or with
    /// --timestamps=rfc3339 (the = is needed) 2026-11-24T10:15:03.120+01:00.
    /// Local means TZ if set, else the system's zone.
    #[arg(
        long,
        value_name = "STYLE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "clock",
        hide_possible_values = true
    )]
    pub timestamps: Option<TimeLabel>,

    /// Print each datagram as text or as a JSON line
    ///
    /// A JSON line is one object per datagram:
    /// {"from":..,"time":..,"text":..,"bytes":..}
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    pub format: OutputFormat,

    /// Show control characters in received text as escapes (\x1b)
    ///
    /// Control characters and escape sequences in received text are shown
    /// as visible escapes: auto does so when stdout is a terminal.
    #[arg(long, value_name = "WHEN", default_value = "auto", hide_short_help = true)]
    pub sanitize: When,

    /// Print received text as it is, even on a terminal (--sanitize=never)
    ///
    /// Only for a peer you trust: its escape sequences then act on your
    /// terminal, and the terminal's answers to some of them (device
    /// attributes, ESC [ c) are typed into the line you are writing, and
    /// sent with it when you press Enter.
    #[arg(long, conflicts_with = "sanitize", hide_short_help = true)]
    pub raw: bool,

    /// Colour labels, warnings and errors
    ///
    /// auto does so on a terminal unless NO_COLOR is set (and not empty) or
    /// TERM=dumb.
    #[arg(long, value_name = "WHEN", default_value = "auto", hide_short_help = true)]
    pub color: ColorWhen,

    /// Kernel receive buffer to ask for (SO_RCVBUF), e.g. 8M
    ///
    /// From 1K to 1G, e.g. 8M or 262144; -v shows what the system granted
    /// (Linux: at most net.core.rmem_max, doubled). Default: 4M, or the most
    /// the system takes.
    #[arg(
        long,
        value_name = "BYTES",
        value_parser = parse_recv_buffer,
        hide_short_help = true
    )]
    pub recv_buffer: Option<usize>,

    /// Send at most this many lines a second
    ///
    /// E.g. 500 or 0.5, so that a piped file does not overrun a slow
    /// receiver. Default: as fast as the input comes.
    #[arg(long, value_name = "PER_SECOND", value_parser = parse_rate, allow_negative_numbers = true)]
    pub rate: Option<Duration>,

    /// A room of everyone on the LAN, on this port
    ///
    /// Each line goes to the broadcast address on this port, and the lines
    /// of every host on the LAN are shown.
    #[arg(
        long,
        value_name = "PORT",
        help_heading = "Rooms",
        value_parser = clap::value_parser!(u16).range(1..),
        conflicts_with = "group"
    )]
    pub broadcast: Option<u16>,

    /// Where --broadcast sends, e.g. the subnet's 192.168.1.255
    ///
    /// Default: 255.255.255.255.
    #[arg(
        long,
        value_name = "IPV4",
        help_heading = "Rooms",
        requires = "broadcast",
        hide_short_help = true
    )]
    pub broadcast_addr: Option<Ipv4Addr>,

    /// A multicast room, e.g. 239.255.23.23:2323
    ///
    /// Join GROUP:PORT, e.g. 239.255.23.23:2323 or [ff12::2323]:2323, and
    /// chat with everyone who joined it.
    #[arg(
        long,
        value_name = "GROUP:PORT",
        help_heading = "Rooms",
        value_parser = parse_group
    )]
    pub group: Option<Group>,

    /// The interface of a --group room, e.g. eth0
    ///
    /// A name (eth0, lo), an index, or for IPv4 an address it holds.
    /// Default: the system's choice, by its routes.
    #[arg(
        long,
        value_name = "IF",
        help_heading = "Rooms",
        requires = "group",
        hide_short_help = true,
        value_parser = parse_interface
    )]
    pub interface: Option<Interface>,

    /// How many routers a --group room's lines may cross
    ///
    /// 1 (the default) keeps them on the LAN, 0 on this host.
    #[arg(
        long,
        value_name = "HOPS",
        help_heading = "Rooms",
        requires = "group",
        hide_short_help = true
    )]
    pub ttl: Option<u8>,

    /// In a room, hear only hosts in this network, e.g. 192.168.1.0/24
    ///
    /// A network, or one address (192.168.1.7); may be given several times.
    /// Default: this host's networks.
    #[arg(
        long,
        value_name = "CIDR",
        help_heading = "Rooms",
        requires = "room",
        hide_short_help = true,
        conflicts_with = "accept_any",
        value_parser = parse_network
    )]
    pub allow: Vec<IpNet>,

    /// Advertise this udpchat on the LAN as NAME
    ///
    /// So that others can chat with it by name. Multicast DNS service discovery (service _udpchat._udp), as Avahi and
    /// Bonjour do; withdrawn when udpchat ends. NAME is one DNS label (at most
    /// 63 bytes of UTF-8). A name another udpchat holds is taken as "NAME (2)",
    /// with a warning.
    #[arg(long, value_name = "NAME", help_heading = "Names on the LAN", value_parser = parse_name)]
    pub name: Option<String>,

    /// List the udpchats on the LAN, then exit
    ///
    /// Each with its name, port, whether it is secured, and its addresses,
    /// from 2 s of listening; --format json gives one object per line.
    #[arg(
        long,
        help_heading = "Names on the LAN",
        conflicts_with_all = ["peers", "more_peers", "room", "name", "recv_only"]
    )]
    pub list: bool,

    /// How long to look for a peer given by NAME before giving up with status 1
    ///
    /// Default: until it is found at a terminal (Ctrl-C gives up), 30s with
    /// piped input.
    #[arg(
        long,
        value_name = "DURATION",
        help_heading = "Names on the LAN",
        value_parser = parse_duration,
        hide_short_help = true
    )]
    pub wait_for_peer: Option<Duration>,

    /// Seal every line with the secret in this file
    ///
    /// Only lines sealed with the same secret are shown. udpchat --generate
    /// secret makes one; UDPCHAT_SECRET may hold a secret or passphrase
    /// instead.
    #[arg(long, value_name = "PATH", help_heading = "Secured chats")]
    pub secret_file: Option<std::path::PathBuf>,

    /// Resend lost lines; name any not delivered
    ///
    /// Each peer acknowledges the lines it wrote; lost lines are sent again,
    /// a peer that cannot keep up makes udpchat wait, and lines a peer never
    /// acknowledged are named, with status 1. Needs a secret; only the
    /// sender needs the flag. Not in rooms.
    #[arg(long, help_heading = "Secured chats")]
    pub reliable: bool,

    /// With --reliable, how long a peer may acknowledge nothing before its lines are given up
    ///
    /// Default: 30s; at least 100ms. With piped input a peer given up stays
    /// given up; at a terminal each new line tries it again.
    #[arg(
        long,
        value_name = "DURATION",
        help_heading = "Secured chats",
        requires = "reliable",
        value_parser = parse_give_up,
        hide_short_help = true
    )]
    pub give_up: Option<Duration>,

    /// In a secured chat, an address senders reach this chat at through NAT,
    /// a port forward or a relay (a sealed line names where it was sent, and
    /// lines sent elsewhere are refused); may be given several times
    #[arg(
        long,
        value_name = "HOST:PORT",
        help_heading = "Secured chats",
        value_parser = parse_host_port,
        conflicts_with = "room",
        hide_short_help = true
    )]
    pub reachable_at: Vec<HostPort>,

    /// Refused: a secret on the command line shows in `ps` to every user
    #[arg(long, hide = true, value_name = "SECRET")]
    pub secret: Option<String>,

    /// Say more on stderr (-v, -vv, -vvv)
    ///
    /// -v info (addresses, the summary at exit), -vv debug, -vvv trace.
    #[arg(short, long, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Say less on stderr: -q errors only, -qq nothing
    ///
    /// -qq prints no log messages: a fatal error and the final "N of M lines
    /// not sent" still print, and at a terminal so do the notices of
    /// --reliable (pending, NOT DELIVERED). -q also hides the progress line.
    #[arg(short, long, action = ArgAction::Count)]
    pub quiet: u8,

    /// Show two chats talking on this machine, then exit
    ///
    /// Two chats in this process, each on a port of 127.0.0.1, say a few
    /// lines to each other; what each types and sees is printed.
    #[arg(long, exclusive = true)]
    pub demo: bool,

    /// Print a completion script, man page or secret
    ///
    /// Prints it on stdout, then exits.
    #[arg(long, value_name = "WHAT", exclusive = true)]
    pub generate: Option<Generated>,
}

/// What `--generate` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Generated {
    /// Completion script for bash
    Bash,
    /// Completion script for zsh
    Zsh,
    /// Completion script for fish
    Fish,
    /// Completion script for elvish
    Elvish,
    /// Completion script for PowerShell
    Powershell,
    /// The man page, in roff
    Man,
    /// A fresh random secret for --secret-file
    Secret,
}

impl Generated {
    /// Writes the script or page, built from the same clap definition that
    /// parses the arguments, so it cannot drift from what udpchat accepts.
    pub fn write(self, out: &mut dyn Write) -> io::Result<()> {
        use clap_complete::Shell;
        let mut command = command();
        let shell = match self {
            Generated::Man => return crate::help::write_man_page(command, out),
            Generated::Secret => unreachable!("a secret is written by write_secret"),
            Generated::Bash => Shell::Bash,
            Generated::Zsh => Shell::Zsh,
            Generated::Fish => Shell::Fish,
            Generated::Elvish => Shell::Elvish,
            Generated::Powershell => Shell::PowerShell,
        };
        clap_complete::generate(shell, &mut command, "udpchat", out);
        Ok(())
    }
}

/// Writes a fresh secret and a newline to stdout. When stdout is a file of
/// its own, as in `udpchat --generate secret > chat.secret`, it is made
/// readable by its owner alone first (mode 600), as ssh-keygen makes its keys.
pub fn write_secret() -> Result<(), udpchat::Error> {
    let secret = udpchat::Secret::generate()?;
    let mut line = secret.to_text();
    line.push('\n');
    let fail = |source| udpchat::Error::Io {
        op: "write the secret",
        source,
    };
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::PermissionsExt;
        let stdout = std::fs::File::from(io::stdout().as_fd().try_clone_to_owned().map_err(fail)?);
        if stdout.metadata().is_ok_and(|meta| meta.is_file()) {
            stdout
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(fail)?;
        }
    }
    let mut stdout = io::stdout().lock();
    match stdout.write_all(line.as_bytes()).and_then(|()| stdout.flush()) {
        Err(err) if err.kind() != io::ErrorKind::BrokenPipe => Err(fail(err)),
        _ => Ok(()),
    }
}

/// The clap definition with `--help`'s examples, environment and exit
/// statuses after the options (see `help.rs`, which also writes them into
/// the man page), for the terminal's width.
pub fn command() -> clap::Command {
    let width = help_width();
    Args::command()
        .term_width(width)
        .after_long_help(crate::help::long_help_footer(width))
}

/// The width `-h` and `--help` are filled to: the terminal's (stdout's, as
/// clap asks), else `COLUMNS`, else 100, and at most 100, which reads better
/// than a wide window's full width.
fn help_width() -> usize {
    const WIDEST: usize = 100;
    let columns = terminal_size::terminal_size()
        .map(|(width, _)| usize::from(width.0))
        .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok());
    columns.filter(|&width| width > 0).unwrap_or(WIDEST).min(WIDEST)
}

/// Parses the command line, or exits with clap's message (status 2).
///
/// A room sends to everyone in it, so a peer or a bind address given with
/// `--broadcast` or `--group` is a mistake; but one from `UDPCHAT_PEER` or
/// `UDPCHAT_BIND`, set once for everyday chats, is only not used. clap treats
/// both alike, hence this check after parsing.
pub fn parse() -> Args {
    let matches = command()
        .try_get_matches()
        .unwrap_or_else(|err| naming_the_variable(err).exit());
    let mut args = Args::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    if args.secret.is_some() {
        Args::command()
            .error(
                ErrorKind::ArgumentConflict,
                "a secret is not taken on the command line, where `ps` shows it to every user: \
                 put it in a file for --secret-file, or in UDPCHAT_SECRET",
            )
            .exit();
    }
    let room = match (args.broadcast, &args.group) {
        (Some(_), _) => "--broadcast <PORT>",
        (_, Some(_)) => "--group <GROUP:PORT>",
        (None, None) => return args,
    };
    // clap's `requires` does not fire when what is required conflicts with
    // what is given: a broadcast room would silently drop these.
    let misplaced = if args.broadcast.is_some() {
        [
            ("--interface <IF>", args.interface.is_some()),
            ("--ttl <HOPS>", args.ttl.is_some()),
        ]
        .into_iter()
        .find_map(|(shown, given)| given.then_some((shown, "a --group room")))
    } else {
        args.broadcast_addr
            .is_some()
            .then_some(("--broadcast-addr <IPV4>", "a --broadcast room"))
    };
    if let Some((shown, whose)) = misplaced {
        Args::command()
            .error(
                ErrorKind::ArgumentConflict,
                format!("the argument '{shown}' cannot be used with '{room}': it is for {whose}"),
            )
            .exit();
    }
    for (id, shown) in [("peers", "[HOST:PORT|NAME]..."), ("bind", "--bind <ADDR>")] {
        match matches.value_source(id) {
            Some(ValueSource::CommandLine) => Args::command()
                .error(
                    ErrorKind::ArgumentConflict,
                    format!(
                        "the argument '{shown}' cannot be used with '{room}': a room sends to all its members"
                    ),
                )
                .exit(),
            Some(_) if id == "peers" => args.peers.clear(),
            Some(_) => args.bind = None,
            None => {}
        }
    }
    args
}

/// clap names a bad value's argument, `[HOST:PORT|NAME]...` or `--bind`, even when
/// the value came from `UDPCHAT_PEER` or `UDPCHAT_BIND`, which then leaves the
/// user looking for a mistake on a command line that has none: name the variable.
fn naming_the_variable(err: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue};
    if err.kind() != ErrorKind::ValueValidation {
        return err;
    }
    let Some(ContextValue::String(value)) = err.get(ContextKind::InvalidValue) else {
        return err;
    };
    let typed: Vec<String> = std::env::args().skip(1).collect();
    for (variable, what) in [
        ("UDPCHAT_PEER", "the peer"),
        ("UDPCHAT_BIND", "the local address"),
    ] {
        let from_env = std::env::var(variable).is_ok_and(|set| set == *value);
        if from_env && !typed.iter().any(|arg| arg.contains(value.as_str())) {
            let reason = std::error::Error::source(&err)
                .map(ToString::to_string)
                .unwrap_or_default();
            return Args::command().error(
                ErrorKind::ValueValidation,
                format!("invalid value '{value}' in the environment variable {variable} ({what}): {reason}"),
            );
        }
    }
    err
}

impl Args {
    /// Who lines go to, as typed, for the prompt: the peers, the group, or
    /// the broadcast address.
    pub fn talking_to(&self) -> String {
        if let Some(to) = self.broadcast_to() {
            return to.to_string();
        }
        if let Some(group) = &self.group {
            return group.addr().to_string();
        }
        let peers: Vec<String> = self
            .peers
            .iter()
            .chain(&self.more_peers)
            .map(ToString::to_string)
            .collect();
        peers.join(", ")
    }

    /// What the prompt names: who lines go to and, for a secured chat, that
    /// it is, in words every terminal shows (`TERM=dumb`, a Windows console):
    /// `to 192.168.1.6:2323 (secured)> `.
    pub fn prompt_names(&self, secured: bool) -> String {
        let to = self.talking_to();
        if secured { format!("{to} (secured)") } else { to }
    }

    /// Where `--broadcast` sends: `--broadcast-addr` (or 255.255.255.255) on its port.
    fn broadcast_to(&self) -> Option<SocketAddrV4> {
        let to = self.broadcast_addr.unwrap_or(Ipv4Addr::BROADCAST);
        self.broadcast.map(|port| SocketAddrV4::new(to, port))
    }

    /// The peers given by name, to be looked up on the LAN.
    pub fn peer_names(&self) -> Vec<&str> {
        self.peers
            .iter()
            .chain(&self.more_peers)
            .filter_map(|peer| match peer {
                Peer::Name(name) => Some(name.as_str()),
                Peer::Addr(_) => None,
            })
            .collect()
    }

    /// Resolves the addresses (the only step that can fail after parsing) into a [`Config`].
    #[cfg(test)]
    pub fn to_config(&self) -> Result<Config, Error> {
        self.to_config_with(&[])
    }

    /// [`to_config`](Args::to_config), with peers `found` by name already.
    pub fn to_config_with(&self, found: &[SocketAddr]) -> Result<Config, Error> {
        let hears = if self.accept_any {
            Hears::Everyone
        } else if !self.allow.is_empty() {
            Hears::Networks(self.allow.clone())
        } else {
            Hears::LocalNetworks
        };
        let destination = if let Some(to) = self.broadcast_to() {
            Destination::Broadcast { to, hears }
        } else if let Some(group) = &self.group {
            let mut group = group
                .clone()
                .with_ttl(self.ttl.map_or(Group::DEFAULT_TTL, u32::from));
            if let Some(interface) = &self.interface {
                group = group.on(interface.clone());
            }
            Destination::Group { group, hears }
        } else {
            let mut peers = self
                .peers
                .iter()
                .chain(&self.more_peers)
                .filter_map(|peer| match peer {
                    Peer::Addr(addr) => Some(addr.resolve()),
                    Peer::Name(_) => None,
                })
                .collect::<Result<Vec<_>, _>>()?;
            peers.extend(found.iter().copied());
            // Peers still to be found by name may be of either family: a
            // dual-stack [::] reaches both.
            let mut bind = if peers.is_empty() {
                SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, Config::DEFAULT_PORT))
            } else {
                Destination::default_bind(&peers)
            };
            if let Some(text) = &self.bind {
                bind = HostPort::parse_bind(text, &bind)?.resolve()?;
            }
            // clap requires a peer or a room unless --generate was given, and
            // Chat::bind refuses an empty list of peers anyway.
            Destination::Peers {
                peers,
                bind,
                accept_any: self.accept_any,
            }
        };
        let mut config = Config::with(destination);
        config.secret = self.secret()?;
        config.reachable_at = self
            .reachable_at
            .iter()
            .map(HostPort::resolve)
            .collect::<Result<_, _>>()?;
        if config.secret.is_none() && !config.reachable_at.is_empty() {
            log::warn!("--reachable-at is for secured chats: a plain one takes every datagram it hears");
        }
        config.linger = self.linger;
        config.recv_only = self.recv_only;
        config.recv_buffer = self.recv_buffer.or(config.recv_buffer);
        config.show_sender = self.show_sender;
        config.display = self.display_style();
        config.send_interval = self.rate;
        config.skip_empty = self.skip_empty;
        config.name = self.name.clone();
        config.reliable = self
            .reliable
            .then(|| Reliable::new().giving_up_after(self.give_up.unwrap_or(Reliable::DEFAULT_GIVE_UP)));
        Ok(config)
    }

    /// The chat's secret: from `--secret-file`, else from `UDPCHAT_SECRET`,
    /// else none (a plain chat).
    fn secret(&self) -> Result<Option<Secret>, Error> {
        if let Some(path) = &self.secret_file {
            return Secret::from_file(path).map(Some);
        }
        let Some(text) = std::env::var_os("UDPCHAT_SECRET") else {
            return Ok(None);
        };
        let text = zeroize::Zeroizing::new(text.into_string().map_err(|_| Error::Secret {
            origin: Some("UDPCHAT_SECRET".into()),
            problem: "it is not UTF-8 text",
        })?);
        Secret::from_text(&text).map(Some).map_err(|err| match err {
            Error::Secret { problem, .. } => Error::Secret {
                origin: Some("UDPCHAT_SECRET".into()),
                problem,
            },
            other => other,
        })
    }

    /// Whether the chat is secured: a secret file, or one in the environment.
    pub fn secured(&self) -> bool {
        self.secret_file.is_some() || std::env::var_os("UDPCHAT_SECRET").is_some()
    }

    /// How received datagrams are shown on this process's stdout.
    fn display_style(&self) -> Style {
        let stdout_is_terminal = io::stdout().is_terminal();
        let sanitize = if self.raw { When::Never } else { self.sanitize };
        Style {
            format: match self.format {
                OutputFormat::Text => Format::Text,
                OutputFormat::Json => Format::Json,
            },
            sanitize: sanitize.resolve(stdout_is_terminal),
            timestamps: self.timestamps.map(|label| match label {
                TimeLabel::Clock => Timestamps::Clock,
                TimeLabel::Rfc3339 => Timestamps::Rfc3339,
            }),
            color: self.color.resolve_color(stdout_is_terminal),
        }
    }

    /// Sets up `log` on stderr: warnings by default, `-v`/`-q` move the level,
    /// and `RUST_LOG`, when set, has the last word.
    pub fn init_logging(&self) {
        use log::LevelFilter;
        let level = match i16::from(self.verbose) - i16::from(self.quiet) {
            ..=-2 => LevelFilter::Off,
            -1 => LevelFilter::Error,
            0 => LevelFilter::Warn,
            1 => LevelFilter::Info,
            2 => LevelFilter::Debug,
            3.. => LevelFilter::Trace,
        };
        crate::logging::init(crate::logging::Logging {
            level,
            stderr_color: self.color.resolve_color(io::stderr().is_terminal()),
            stdout_color: self.color.resolve_color(io::stdout().is_terminal()),
        });
    }
}

/// `--sanitize`: always, never, or only when stdout is a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum When {
    /// When stdout is a terminal
    Auto,
    /// Always, even into a pipe or file
    Always,
    /// Never: received text is written as it came
    Never,
}

impl When {
    fn resolve(self, is_terminal: bool) -> bool {
        match self {
            When::Auto => is_terminal,
            When::Always => true,
            When::Never => false,
        }
    }
}

/// `--color`: always, never, or only on a terminal that wants colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set (and not empty) or TERM is dumb
    Auto,
    /// Always, even into a pipe or file, and whatever NO_COLOR says
    Always,
    /// Never
    Never,
}

impl ColorWhen {
    /// Colour for an output: `NO_COLOR` set to anything but the empty string
    /// turns "auto" off, as <https://no-color.org> asks; an explicit "always"
    /// still wins, since a flag is a user's more specific wish. A dumb terminal
    /// gets no colour either.
    fn resolve_color(self, is_terminal: bool) -> bool {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|term| term == "dumb");
        match self {
            ColorWhen::Auto => is_terminal && !no_color && !dumb,
            ColorWhen::Always => true,
            ColorWhen::Never => false,
        }
    }
}

/// `--timestamps`: which time label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TimeLabel {
    /// Local time of day, 10:15:03
    Clock,
    /// Local date and time with milliseconds and UTC offset
    Rfc3339,
}

/// `--format`: what each received datagram becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// One line of text
    Text,
    /// One JSON object per line
    Json,
}

/// clap already says which argument and value were wrong; keep only the reason.
fn reason(err: Error) -> String {
    match err {
        Error::InvalidAddress { problem, .. } => problem.to_string(),
        Error::Interface { problem, .. } => problem.to_string(),
        other => other.to_string(),
    }
}

fn parse_peer(text: &str) -> Result<Peer, String> {
    text.parse().map_err(reason)
}

/// An address with its port: never a name, which only a peer may be.
fn parse_host_port(text: &str) -> Result<HostPort, String> {
    text.parse().map_err(reason)
}

fn parse_name(text: &str) -> Result<String, String> {
    udpchat::discover::check_name(text)
        .map(|()| text.to_owned())
        .map_err(|err| match err {
            Error::InvalidName { problem, .. } => problem.to_owned(),
            other => other.to_string(),
        })
}

/// A multicast group, resolved now so that a unicast address is a usage error.
fn parse_group(text: &str) -> Result<Group, String> {
    text.parse::<HostPort>()
        .and_then(|hp| hp.resolve())
        .and_then(Group::new)
        .map_err(reason)
}

fn parse_interface(text: &str) -> Result<Interface, String> {
    text.parse().map_err(reason)
}

/// A network in CIDR notation; a bare address is a network of one host.
fn parse_network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    text.parse::<IpNet>()
        .map(|net| net.trunc())
        .map_err(|_| "expected a network such as 192.168.1.0/24 or fd00::/64, or an address".into())
}

/// Checks the syntax now, so mistakes get clap's usage error; the real
/// parse waits for the peer, whose IP family a bare port binds to.
fn check_bind(text: &str) -> Result<String, String> {
    // A bare number that is no port would otherwise be read as a host
    // without a port ("missing port"), which is not what was meant.
    let digits = text.trim();
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && digits.parse::<u16>().is_err() {
        return Err(format!(
            "port {digits} is out of range: a port is a number from 0 to 65535"
        ));
    }
    let any_v4 = SocketAddr::from(([0, 0, 0, 0], 0));
    HostPort::parse_bind(text, &any_v4).map_err(reason)?;
    Ok(text.to_owned())
}

/// `2s`, `500ms`, `1m 30s` (humantime's syntax), or a bare number of seconds.
/// humantime's own errors ("expected number at 0") speak of its parser, not
/// of what to type, so they are not passed on.
fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .ok()
        .or_else(|| {
            text.parse::<f64>()
                .ok()
                .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        })
        .ok_or_else(|| {
            let what = if text.trim_start().starts_with('-') {
                "a duration cannot be negative"
            } else {
                "not a duration"
            };
            format!("{what}: a duration is a number with a unit, e.g. 2s, 500ms or 1m 30s, or of seconds, e.g. 1.5")
        })
}

/// `--give-up`: a duration from 100 ms to a year.
fn parse_give_up(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration < Reliable::MIN_GIVE_UP {
        return Err("at least 100ms: a peer needs a few round trips to answer".into());
    }
    Ok(duration.min(Reliable::MAX_GIVE_UP))
}

/// The warning for a `--recv-buffer` the system granted far less of.
pub fn recv_buffer_shortfall(asked: usize, granted: usize) -> String {
    let why = if cfg!(target_os = "linux") {
        " (Linux grants at most net.core.rmem_max, doubled; sysctl -w net.core.rmem_max=BYTES raises it)"
    } else {
        ""
    };
    format!(
        "the system granted a receive buffer of {granted} bytes, far less than the {asked} asked for{why}"
    )
}

/// `--recv-buffer`: a byte count the systems can all take. Larger ones
/// would wrap in the C `int` the kernel reads (4G became 2,304 bytes).
fn parse_recv_buffer(text: &str) -> Result<usize, String> {
    let size = parse_bytes(text)?;
    if (Config::MIN_RECV_BUFFER..=Config::MAX_RECV_BUFFER).contains(&size) {
        Ok(size)
    } else {
        Err(format!(
            "{size} bytes is out of range: a receive buffer is from 1K ({}) to 1G ({}) bytes",
            Config::MIN_RECV_BUFFER,
            Config::MAX_RECV_BUFFER
        ))
    }
}

/// A byte count, with an optional binary suffix: `262144`, `256K`, `4M`, `4MiB`.
fn parse_bytes(text: &str) -> Result<usize, String> {
    let lower = text.trim().to_ascii_lowercase();
    let (digits, unit) = match lower.trim_end_matches("ib").trim_end_matches('b') {
        t if t.ends_with('k') => (&t[..t.len() - 1], 1 << 10),
        t if t.ends_with('m') => (&t[..t.len() - 1], 1 << 20),
        t if t.ends_with('g') => (&t[..t.len() - 1], 1 << 30),
        t => (t, 1),
    };
    digits
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| "expected a number of bytes, e.g. 262144, 256K or 4M".to_owned())
}

/// Lines per second, turned into the interval between two lines. Slower than
/// a line a day is refused, which keeps the sender's schedule far from overflow.
fn parse_rate(text: &str) -> Result<Duration, String> {
    const DAY: Duration = Duration::from_secs(24 * 60 * 60);
    let rate = text.trim().parse::<f64>();
    if rate.as_ref().is_ok_and(|rate| *rate <= 0.0) {
        return Err("a rate must be positive: lines per second, e.g. 500 or 0.5".to_owned());
    }
    rate.ok()
        .filter(|rate| rate.is_finite())
        .and_then(|rate| Duration::try_from_secs_f64(1.0 / rate).ok())
        .filter(|interval| *interval <= DAY)
        .ok_or_else(|| "expected lines per second, e.g. 500 or 0.5 (at least one a day)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_cli() {
        command().debug_assert();
    }

    #[test]
    fn parses_durations_with_units_or_bare_seconds() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn parses_byte_counts_with_binary_suffixes() {
        assert_eq!(parse_bytes("262144"), Ok(262_144));
        assert_eq!(parse_bytes("256K"), Ok(256 * 1024));
        assert_eq!(parse_bytes("4M"), Ok(4 << 20));
        assert_eq!(parse_bytes("4MiB"), Ok(4 << 20));
        assert_eq!(parse_bytes("0"), Ok(0));
        for bad in ["", "M", "-1", "4T", "1.5M", "99999999999999999999"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn turns_a_rate_into_the_interval_between_lines() {
        assert_eq!(parse_rate("500"), Ok(Duration::from_millis(2)));
        assert_eq!(parse_rate("0.5"), Ok(Duration::from_secs(2)));
        for bad in ["0", "-3", "fast", "NaN", "inf", "1e-9"] {
            assert!(parse_rate(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timestamps_takes_its_style_only_after_an_equals_sign() {
        // The peer after a bare --timestamps is the peer, not the flag's value.
        let args = Args::parse_from(["udpchat", "--timestamps", "127.0.0.1:9"]);
        assert_eq!(args.timestamps, Some(TimeLabel::Clock));
        assert_eq!(args.peers[0].to_string(), "127.0.0.1:9");
        let args = Args::parse_from(["udpchat", "--timestamps=rfc3339", "127.0.0.1:9"]);
        assert_eq!(args.timestamps, Some(TimeLabel::Rfc3339));
        assert_eq!(Args::parse_from(["udpchat", "127.0.0.1:9"]).timestamps, None);
    }

    #[test]
    fn raw_turns_sanitizing_off_and_cannot_be_mixed_with_sanitize() {
        let args = Args::parse_from(["udpchat", "--raw", "127.0.0.1:9"]);
        assert!(!args.display_style().sanitize);
        let mixed = Args::try_parse_from(["udpchat", "--raw", "--sanitize=always", "127.0.0.1:9"]);
        assert_eq!(
            mixed.unwrap_err().kind(),
            clap::error::ErrorKind::ArgumentConflict
        );
        let args = Args::parse_from(["udpchat", "--sanitize=always", "127.0.0.1:9"]);
        assert!(args.display_style().sanitize);
    }

    #[test]
    fn binds_the_peers_family_by_default() {
        let bind_of = |args: &[&str]| match Args::parse_from(args).to_config().unwrap().destination {
            Destination::Peers { bind, .. } => bind.to_string(),
            other => panic!("not a chat with peers: {other:?}"),
        };
        assert_eq!(bind_of(&["udpchat", "[::1]:9"]), "[::]:2323");
        assert_eq!(bind_of(&["udpchat", "-b", "4000", "127.0.0.1:9"]), "0.0.0.0:4000");
    }

    #[test]
    fn accept_any_and_allow_say_whom_a_room_hears() {
        let hears = |args: &[&str]| match Args::parse_from(args).to_config().unwrap().destination {
            Destination::Broadcast { hears, .. } => hears,
            other => panic!("not a broadcast room: {other:?}"),
        };
        assert_eq!(hears(&["udpchat", "--broadcast", "2323"]), Hears::LocalNetworks);
        assert_eq!(
            hears(&["udpchat", "--broadcast", "2323", "--accept-any"]),
            Hears::Everyone
        );
        assert_eq!(
            hears(&["udpchat", "--broadcast", "2323", "--allow", "10.0.0.0/8"]),
            Hears::Networks(vec!["10.0.0.0/8".parse().unwrap()])
        );
    }
}
