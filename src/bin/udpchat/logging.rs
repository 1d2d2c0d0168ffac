//! Log lines: their level, their format, and where they go (stderr, above the input line, around the progress line).

use std::fmt::Arguments;
use std::io::{self, Write};

use log::{Level, LevelFilter, Log, Metadata, Record};
use udpchat::Reliable;

/// How `log` is set up, from the arguments.
pub struct Logging {
    /// From `-v`/`-q`; `RUST_LOG`, when set, has the last word.
    pub level: LevelFilter,
    pub stderr_color: bool,
    /// For the delivery notices shown above the input line (on stdout).
    pub stdout_color: bool,
}

/// Installs the logger: `env_logger` with our format, writing
/// [`AroundTheMeter`], behind [`ChatLogger`].
pub fn init(logging: Logging) {
    let Logging {
        level,
        stderr_color,
        stdout_color,
    } = logging;
    let inner = env_logger::Builder::new()
        .filter_level(level)
        .parse_env("RUST_LOG")
        // Above the input line while a line editor runs, else stderr.
        .target(env_logger::Target::Pipe(Box::new(AroundTheMeter)))
        // We decide about colour ourselves; env_logger must not strip it.
        .write_style(if stderr_color {
            env_logger::WriteStyle::Always
        } else {
            env_logger::WriteStyle::Never
        })
        .format(move |out, record| {
            out.write_all(line(stderr_color, record.level(), record.args()).as_bytes())
        })
        .build();
    // Delivery notices pass whatever the level: see `ChatLogger`.
    let max_level = inner.filter().max(LevelFilter::Warn);
    if log::set_boxed_logger(Box::new(ChatLogger { inner, stdout_color })).is_ok() {
        log::set_max_level(max_level);
    }
}

/// One log line as udpchat writes it: `udpchat: warning: ...`.
fn line(color: bool, level: Level, args: &Arguments) -> String {
    let (name, sgr) = match level {
        Level::Error => ("error", "\x1b[1;31m"),
        Level::Warn => ("warning", "\x1b[1;33m"),
        other => (&*other.as_str().to_lowercase(), ""),
    };
    if color && !sgr.is_empty() {
        format!("udpchat: {sgr}{name}\x1b[0m: {args}\n")
    } else {
        format!("udpchat: {name}: {args}\n")
    }
}

/// The library's delivery notices ([`Reliable::NOTICE_TARGET`]: a typed
/// line pending, not delivered, or delivered after all) are part of the
/// chat, so while a line editor runs they are shown above the input line
/// whatever `-q` says and wherever stderr goes (and, when stderr is not that
/// terminal, logged there too, as the level allows). Everything else is
/// `env_logger`'s.
struct ChatLogger {
    inner: env_logger::Logger,
    stdout_color: bool,
}

fn is_notice(metadata: &Metadata) -> bool {
    metadata.target() == Reliable::NOTICE_TARGET && metadata.level() <= Level::Warn
}

impl Log for ChatLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        is_notice(metadata) || self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        if is_notice(record.metadata()) {
            let shown = line(self.stdout_color, record.level(), record.args());
            if crate::terminal::show_notice(shown.as_bytes()) == crate::terminal::Notice::WithTheLogs {
                return;
            }
        }
        if self.inner.enabled(record.metadata()) {
            self.inner.log(record);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Log lines go to the terminal front end's output (above the input line
/// while a line editor runs, else stderr), with the progress line, if one
/// is shown, taken off the screen meanwhile.
struct AroundTheMeter;

impl Write for AroundTheMeter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        crate::meter::suspended(|| crate::terminal::LogOutput.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        crate::terminal::LogOutput.flush()
    }
}
