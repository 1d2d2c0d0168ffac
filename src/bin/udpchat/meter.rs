//! The progress line on a terminal's stderr while piped input is sent: lines, bytes, rate, and for a file, percent and time left.
//!
//! It is drawn by indicatif (its templates, rate and ETA estimates and
//! terminal handling are what `pv` users expect, and better than a
//! hand-drawn line), from the reads of the input itself: the sender's own
//! reads move it, so an input that waits (a `tail -f`) never wakes anything,
//! and no timer thread runs. With `--reliable` the sender also waits for its
//! peers, without reading: each time it starts to, a thread of the meter's
//! is woken to redraw the line a few times a second until the wait ends,
//! for it to say so; the rest of the time that thread sleeps on a channel.

use std::io::{self, BufRead, IsTerminal, Read};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use std::fmt;

use indicatif::{HumanDuration, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use udpchat::Progress;

/// Redraws per second at most: enough to see it move, few enough to cost nothing.
const REDRAWS_PER_SECOND: u8 = 4;

/// The input is told to the bar about every this many bytes, or this often,
/// whichever comes first (a slow `--rate` reads little).
const REPORT_EVERY: u64 = 16 * 1024;
const REPORT_INTERVAL: Duration = Duration::from_millis(250);

/// The bar being shown, for log lines to step around (see [`suspended`]).
static SHOWN: OnceLock<ProgressBar> = OnceLock::new();

/// Whether to show progress: stderr is a terminal and stdin is not (piped
/// or redirected input, which nobody sees being typed), and not `-q`.
pub fn wanted(quiet: bool, recv_only: bool) -> bool {
    !quiet && !recv_only && io::stderr().is_terminal() && !io::stdin().is_terminal()
}

/// Starts the bar for `input` (stdin), sized by what is left of it when it
/// is a regular file, and returns `input` wrapped so that reading it moves
/// the bar. `progress` gives the lines sent.
pub fn start<R: BufRead>(input: R, progress: Progress, reliable: bool) -> Metered<R> {
    let total = regular_file_left();
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr_with_hz(REDRAWS_PER_SECOND));
    let template = if total.is_some() {
        "{msg}{waiting}, {bytes}/{total_bytes} ({percent}%), {bytes_per_sec}{left}"
    } else {
        "{msg}{waiting}, {bytes}, {bytes_per_sec}"
    };
    let waiting = progress.clone();
    let no_estimate = progress.clone();
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("waiting", move |_: &ProgressState, out: &mut dyn fmt::Write| {
            if waiting.waiting_for_peer() {
                let _ = write!(
                    out,
                    ", waiting for the peer to acknowledge {}",
                    crate::words::count(waiting.lines_pending(), "line")
                );
            }
        })
        // While it waits for its peer, no time left can be told.
        .with_key("left", move |state: &ProgressState, out: &mut dyn fmt::Write| {
            if !no_estimate.waiting_for_peer() {
                let _ = write!(out, ", {:#} left", HumanDuration(state.eta()));
            }
        });
    bar.set_style(style);
    bar.set_message("sending: 0 lines");
    if reliable {
        redraw_while_waiting(&bar, &progress);
    }
    let _ = SHOWN.set(bar.clone());
    Metered {
        input,
        bar,
        progress,
        reliable,
        read: 0,
        reported: 0,
        last_report: Instant::now(),
    }
}

/// Redraws `bar` while the sender waits for its peers: a thread that sleeps
/// on a channel until [`Progress::on_waiting`] wakes it, then redraws a few
/// times a second until the wait ends, and once more after.
fn redraw_while_waiting(bar: &ProgressBar, progress: &Progress) {
    let (wake, woken) = crossbeam_channel::bounded::<()>(1);
    progress.on_waiting(move || {
        let _ = wake.try_send(());
    });
    let (bar, progress) = (bar.clone(), progress.clone());
    let interval = Duration::from_millis(1000 / u64::from(REDRAWS_PER_SECOND));
    let _ = std::thread::Builder::new().name("meter".into()).spawn(move || {
        while woken.recv().is_ok() {
            while progress.waiting_for_peer() && !bar.is_finished() {
                bar.tick();
                std::thread::sleep(interval);
            }
            bar.tick();
        }
    });
}

/// Clears the bar, if one was shown: at the end of input, and before the
/// chat's last words.
pub fn clear() {
    if let Some(bar) = SHOWN.get() {
        bar.finish_and_clear();
    }
}

/// Runs `write` with the bar taken off the screen, so that a log line does
/// not land in the middle of it.
pub fn suspended<T>(write: impl FnOnce() -> T) -> T {
    match SHOWN.get() {
        Some(bar) if !bar.is_finished() => bar.suspend(write),
        _ => write(),
    }
}

/// An output on the same terminal as the bar (stdout, when it is one): each
/// write is made with the bar taken off the screen, so a received line
/// never lands in the middle of it.
pub struct AroundTheBar<W>(pub W);

impl<W: io::Write> io::Write for AroundTheBar<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        suspended(|| self.0.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        suspended(|| self.0.flush())
    }
}

/// How much of stdin is left to read, when it is a regular file.
#[cfg(unix)]
fn regular_file_left() -> Option<u64> {
    use std::io::Seek;
    use std::os::fd::AsFd;
    let file = std::fs::File::from(io::stdin().as_fd().try_clone_to_owned().ok()?);
    let metadata = file.metadata().ok()?;
    if !metadata.is_file() {
        return None;
    }
    // The duplicate shares the offset: `(head -1; udpchat ...) < file` has read some.
    let at = (&file).stream_position().ok()?;
    Some(metadata.len().saturating_sub(at))
}

#[cfg(not(unix))]
fn regular_file_left() -> Option<u64> {
    None
}

/// The input, telling the bar how far it has been read.
pub struct Metered<R> {
    input: R,
    bar: ProgressBar,
    progress: Progress,
    /// The chat waits for acknowledgements after the input ends: the line stays till then.
    reliable: bool,
    read: u64,
    reported: u64,
    last_report: Instant,
}

impl<R> Metered<R> {
    /// Tells the bar, if enough was read or enough time went by.
    fn report_if_due(&mut self) {
        if self.read - self.reported >= REPORT_EVERY || self.last_report.elapsed() >= REPORT_INTERVAL {
            self.report();
        }
    }

    fn report(&mut self) {
        self.reported = self.read;
        self.last_report = Instant::now();
        // The position first: setting the message draws the bar (when a
        // draw is due), and it drew "0 B/18.75 KiB" after the whole file was read.
        self.bar.set_position(self.read);
        let lines = self.progress.lines_sent();
        let elapsed = self.bar.elapsed().max(Duration::from_millis(1)).as_secs_f64();
        let delivered = if self.reliable {
            format!(", {} delivered", self.progress.lines_delivered())
        } else {
            String::new()
        };
        self.bar.set_message(format!(
            "sent {} ({:.0}/s){delivered}",
            crate::words::count(lines, "line"),
            lines as f64 / elapsed
        ));
    }
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        self.read += n as u64;
        if n == 0 && !self.reliable {
            clear();
        } else {
            self.report_if_due();
        }
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Metered<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        // At the end of input the bar goes: the chat's last words follow
        // (with --reliable, once the peers acknowledged: it says it waits).
        if self.input.fill_buf()?.is_empty() && !self.reliable {
            clear();
        }
        self.input.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.read += amount as u64;
        self.input.consume(amount);
        self.report_if_due();
    }
}
