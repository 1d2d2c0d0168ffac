//! Command-line arguments, and their conversion into the library's [`Config`].

use std::net::SocketAddr;
use std::time::Duration;

use clap::{ArgAction, Parser};
use udpchat::{Config, Error, HostPort};

const EXAMPLES: &str = "\
Examples:
  On host A (192.168.1.5) and host B (192.168.1.6), each naming the other:
    udpchat 192.168.1.6:2323
    udpchat 192.168.1.5:2323
  Send a file, one datagram per line, then wait 2 s for replies:
    udpchat --linger 2s 192.168.1.6:2323 < notes.txt
  Log what a peer sends, with stdin closed:
    udpchat --recv-only 192.168.1.6:2323 >> chat.log < /dev/null
  Also show what other hosts send to this port, each line labelled <ADDR>:
    udpchat --accept-any 192.168.1.6:2323";

/// A full-duplex chat over plain UDP: each line you type is one datagram to
/// the peer, each datagram received is printed as one line.
#[derive(Debug, Parser)]
#[command(name = "udpchat", version, after_help = EXAMPLES)]
pub struct Args {
    /// The other host, e.g. 192.168.1.6:2323, [fe80::1%eth0]:2323 or pc-b.lan:2323
    #[arg(value_name = "HOST:PORT", value_parser = parse_peer)]
    pub peer: HostPort,

    /// Local address to receive on: HOST:PORT, PORT or IP
    /// [default: 0.0.0.0:2323, or [::]:2323 for an IPv6 peer]
    #[arg(short, long, value_name = "ADDR", env = "UDPCHAT_BIND", value_parser = check_bind)]
    pub bind: Option<String>,

    /// Keep printing received lines this long after the input ends, e.g. 2s, 500ms
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub linger: Duration,

    /// Only print what arrives; standard input is not read
    #[arg(long)]
    pub recv_only: bool,

    /// Start each received line with the address it came from: <192.168.1.6:2323> hi
    #[arg(long)]
    pub show_sender: bool,

    /// Show datagrams from any host, each other host's line starting with its
    /// address [default: only the peer's IP address is heard, from any port]
    #[arg(long)]
    pub accept_any: bool,

    /// Say more on stderr: -v info, -vv debug, -vvv trace
    #[arg(short, long, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Say less on stderr: -q errors only, -qq nothing
    #[arg(short, long, action = ArgAction::Count)]
    pub quiet: u8,
}

impl Args {
    /// Resolves the addresses (the only step that can fail after parsing) into a [`Config`].
    pub fn to_config(&self) -> Result<Config, Error> {
        let peer = self.peer.resolve()?;
        let mut config = Config::new(peer);
        if let Some(bind) = &self.bind {
            config.bind = HostPort::parse_bind(bind, &peer)?.resolve()?;
        }
        config.linger = self.linger;
        config.recv_only = self.recv_only;
        config.show_sender = self.show_sender;
        config.accept_any = self.accept_any;
        Ok(config)
    }

    /// Sets up `log` on stderr: warnings by default, `-v`/`-q` move the level,
    /// and `RUST_LOG`, when set, has the last word.
    pub fn init_logging(&self) {
        use log::LevelFilter::*;
        let level = match i16::from(self.verbose) - i16::from(self.quiet) {
            ..=-2 => Off,
            -1 => Error,
            0 => Warn,
            1 => Info,
            2 => Debug,
            3.. => Trace,
        };
        env_logger::Builder::new()
            .filter_level(level)
            .parse_env("RUST_LOG")
            .format(|out, record| {
                use std::io::Write;
                let level = match record.level() {
                    log::Level::Warn => "warning",
                    other => &other.as_str().to_lowercase(),
                };
                writeln!(out, "udpchat: {level}: {}", record.args())
            })
            .init();
    }
}

/// clap already says which argument and value were wrong; keep only the reason.
fn reason(err: Error) -> String {
    match err {
        Error::InvalidAddress { reason, .. } => reason,
        other => other.to_string(),
    }
}

fn parse_peer(text: &str) -> Result<HostPort, String> {
    text.parse().map_err(reason)
}

/// Checks the syntax now, so mistakes get clap's usage error; the real
/// parse waits for the peer, whose IP family a bare port binds to.
fn check_bind(text: &str) -> Result<String, String> {
    let any_v4 = SocketAddr::from(([0, 0, 0, 0], 0));
    HostPort::parse_bind(text, &any_v4).map_err(reason)?;
    Ok(text.to_owned())
}

/// `2s`, `500ms`, `1m 30s` (humantime's syntax), or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .or_else(|err| {
            text.parse::<f64>()
                .ok()
                .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
                .ok_or(err)
        })
        .map_err(|err| format!("{err} (expected e.g. 2s, 500ms or 1.5)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Args::command().debug_assert();
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
    fn binds_the_peers_family_by_default() {
        let config = Args::parse_from(["udpchat", "[::1]:9"]).to_config().unwrap();
        assert_eq!(config.bind.to_string(), "[::]:2323");
        let config = Args::parse_from(["udpchat", "-b", "4000", "127.0.0.1:9"])
            .to_config()
            .unwrap();
        assert_eq!(config.bind.to_string(), "0.0.0.0:4000");
    }
}
