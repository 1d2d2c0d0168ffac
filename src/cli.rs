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
  Send a big file to a slow host, 2,000 lines a second, with a summary at the end:
    udpchat -v --rate 2000 192.168.1.6:2323 < big.log
  Log what a peer sends, with stdin closed:
    udpchat --recv-only 192.168.1.6:2323 >> chat.log < /dev/null";

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

    /// Kernel receive buffer to ask for (SO_RCVBUF), e.g. 8M or 262144; -v shows
    /// what the system granted (Linux: at most net.core.rmem_max, doubled) [default: 4M]
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub recv_buffer: Option<usize>,

    /// Send at most this many lines per second (e.g. 500 or 0.5), so a piped
    /// file does not overrun a slow receiver; default: as fast as possible
    #[arg(long, value_name = "LINES_PER_SECOND", value_parser = parse_rate)]
    pub rate: Option<Duration>,

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
        if let Some(size) = self.recv_buffer {
            config.recv_buffer = Some(size);
        }
        config.send_interval = self.rate;
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
    text.parse::<f64>()
        .ok()
        .filter(|rate| rate.is_finite() && *rate > 0.0)
        .and_then(|rate| Duration::try_from_secs_f64(1.0 / rate).ok())
        .filter(|interval| *interval <= DAY)
        .ok_or_else(|| "expected lines per second, e.g. 500 or 0.5 (at least one a day)".to_owned())
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
    fn binds_the_peers_family_by_default() {
        let config = Args::parse_from(["udpchat", "[::1]:9"]).to_config().unwrap();
        assert_eq!(config.bind.to_string(), "[::]:2323");
        let config = Args::parse_from(["udpchat", "-b", "4000", "127.0.0.1:9"])
            .to_config()
            .unwrap();
        assert_eq!(config.bind.to_string(), "0.0.0.0:4000");
    }
}
