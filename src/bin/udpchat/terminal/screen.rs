//! Output on its way to the terminal: received and log lines held in bounded memory, and the printer thread that hands them to the line editor.
//!
//! What waits for the terminal is bounded: a ring of [`MAX_PENDING`] bytes,
//! allocated once, so neither a flood nor the size of its datagrams can
//! grow it, and taking a batch out costs the batch, not the backlog. A line
//! that finds no room is not shown: it is counted and told as the kernel's
//! drops are, at once, then at most once a second, and at the end.
//!
//! Lines wait as they arrived, and are cut into rows (`rows`) as they are
//! taken out, into a batch of at most [`MAX_BATCH`] bytes as cut: however
//! narrow the terminal, and however many rows a line then takes, one print
//! to the editor is that size, and so is the wait for a key pressed
//! meanwhile, or for Ctrl-C.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use log::{debug, warn};
use rustyline::ExternalPrinter;

use super::{rows, suspend};
use crate::throttle::Throttle;
use crate::words::count;

/// One print to the editor holds at most about this much as shown (cut
/// into rows), whole lines, so that a key pressed during a burst, Ctrl-C
/// included, waits for one such write at most: at 64 KiB, a terminal 20
/// columns wide under a flood took up to 78 ms to show one, at 16 KiB up to
/// 38 ms, and throughput is the terminal's either way.
const MAX_BATCH: usize = 16 * 1024;

/// Received lines waiting for the terminal take at most this many bytes.
/// A terminal shows a few MiB a second at best, so more would only make the
/// screen lag further behind; the longest line there can be (a 65,535-byte
/// datagram of invalid bytes, shown as `\xNN` each, with its labels) fits
/// 15 times over.
const MAX_PENDING: usize = 4 * 1024 * 1024;

/// Log lines waiting for the terminal take at most this many bytes: they are
/// few (warnings come at most once a second), but `-vvv` logs per datagram.
const MAX_PENDING_LOGS: usize = 256 * 1024;

/// Where the editor is, as far as output is concerned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Phase {
    /// The editor is not showing its line yet, or has just accepted one:
    /// output waits, so that it cannot overtake a print the editor still holds.
    #[default]
    Waiting,
    /// The editor shows its line: output goes through its printer.
    Editing,
    /// The editor is done (end of input, Ctrl-C, an error, the chat ended):
    /// output goes straight to stdout.
    Closed,
}

/// Received lines the screen has not shown, readable without its lock
/// (see [`lines_not_shown`](super::lines_not_shown)): for a process about to
/// exit at once, to say what it leaves unshown.
#[derive(Debug, Default)]
pub(super) struct NotShown {
    /// Taken in, and not yet on the terminal.
    pub(super) waiting: AtomicU64,
    /// Dropped: no room for them, Ctrl-C, or a terminal that failed.
    pub(super) dropped: AtomicU64,
}

impl NotShown {
    pub(super) const fn new() -> NotShown {
        NotShown {
            waiting: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// `lines` that were waiting will never be shown.
    fn drop_waiting(&self, lines: u64) {
        self.waiting.fetch_sub(lines, Ordering::Relaxed);
        self.dropped.fetch_add(lines, Ordering::Relaxed);
    }
}

/// Output on its way to the terminal, shared by the receiver (through
/// [`ScreenWriter`]), the printer thread and the editor's hooks.
pub(super) struct Screen {
    state: Mutex<ScreenState>,
    /// Signalled on every change of `state`; each waiter checks its own condition.
    changed: Condvar,
    pub(super) not_shown: &'static NotShown,
}

pub(super) struct ScreenState {
    phase: Phase,
    /// Whole received lines not yet shown, in order, at most [`MAX_PENDING`]
    /// bytes of UTF-8: a ring allocated once, resident only as far as used.
    pending: VecDeque<u8>,
    /// Whole log lines not yet shown, at most [`MAX_PENDING_LOGS`] bytes;
    /// shown before the received lines pending, so a warning is not held
    /// behind the backlog it warns about.
    pub(super) logs: String,
    /// Set once the receiver has written its last line.
    finished: bool,
    /// Set once what waits has been dropped at Ctrl-C: a batch already
    /// taken is not shown either.
    discarded: bool,
    /// Why the terminal could not be written, for the receiver to stop on.
    failed: Option<io::Error>,
    /// Lines that found no room, and the warnings about them.
    unshown: Unshown,
}

impl Default for ScreenState {
    fn default() -> ScreenState {
        ScreenState {
            phase: Phase::default(),
            pending: VecDeque::with_capacity(MAX_PENDING),
            logs: String::new(),
            finished: false,
            discarded: false,
            failed: None,
            unshown: Unshown::default(),
        }
    }
}

/// Lines dropped for want of room on the screen: counted, and told as the
/// kernel's drops are (at once, then at most once a second, and at the end).
#[derive(Debug, Default)]
struct Unshown {
    /// Received lines dropped since the chat started.
    lines: u64,
    /// Received lines dropped and not yet told.
    unreported: u64,
    /// Log lines dropped, told at the end.
    log_lines: u64,
    warnings: Throttle,
}

impl Unshown {
    /// Counts `lines` more dropped; returns how many to warn about now, if
    /// a warning is due.
    fn add(&mut self, lines: u64, now: Instant) -> Option<u64> {
        self.lines += lines;
        self.unreported += lines;
        (self.unreported > 0 && self.warnings.allows(now)).then(|| std::mem::take(&mut self.unreported))
    }
}

/// The warning for `lines` received lines that were not shown.
fn warn_unshown(lines: u64) {
    warn!(
        "{} not shown: the terminal could not keep up with them \
         (--rate on the sender, or a pipe or file instead of a terminal, helps)",
        count(lines, "received line")
    );
}

/// How many lines `text` holds (each ends in `\n`).
fn lines_in(text: &[u8]) -> u64 {
    text.iter().filter(|&&b| b == b'\n').count() as u64
}

impl Screen {
    /// A screen that counts the lines it has not shown in `not_shown`.
    pub(super) fn new(not_shown: &'static NotShown) -> Screen {
        Screen {
            state: Mutex::default(),
            changed: Condvar::new(),
            not_shown,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, ScreenState> {
        // A panic elsewhere must not stop the output: the state stays consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait_while<'a>(
        &self,
        state: MutexGuard<'a, ScreenState>,
        condition: impl FnMut(&mut ScreenState) -> bool,
    ) -> MutexGuard<'a, ScreenState> {
        self.changed
            .wait_while(state, condition)
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves from phase `from` to `to`; does nothing in any other phase, so a
    /// late hook cannot reopen a closed editor.
    pub(super) fn advance(&self, from: Phase, to: Phase) {
        let mut state = self.lock();
        if state.phase == from {
            state.phase = to;
            self.changed.notify_all();
        }
    }

    pub(super) fn close(&self) {
        self.lock().phase = Phase::Closed;
        self.changed.notify_all();
    }

    /// Appends whole received lines to be shown, as many as there is room
    /// for; the rest are counted as not shown. Never waits for the terminal;
    /// fails once the terminal has failed.
    fn push(&self, text: &[u8]) -> io::Result<()> {
        // Whole lines of UTF-8 come in; lossy only as a safeguard.
        let text = String::from_utf8_lossy(text);
        let text = text.as_bytes();
        let mut state = self.lock();
        if let Some(err) = state.failed.take() {
            return Err(err);
        }
        let room = MAX_PENDING - state.pending.len();
        let fits = if text.len() <= room {
            text.len()
        } else {
            text[..room]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |end| end + 1)
        };
        state.pending.extend(&text[..fits]);
        self.not_shown
            .waiting
            .fetch_add(lines_in(&text[..fits]), Ordering::Relaxed);
        self.changed.notify_all();
        let dropped = lines_in(&text[fits..]);
        self.not_shown.dropped.fetch_add(dropped, Ordering::Relaxed);
        let warning = (dropped > 0)
            .then(|| state.unshown.add(dropped, Instant::now()))
            .flatten();
        // The warning is logged, and a log line comes back here: unlock first.
        drop(state);
        if let Some(lines) = warning {
            warn_unshown(lines);
        }
        Ok(())
    }

    /// Appends a whole log line to be shown; never waits. A log line that
    /// finds no room is counted, and told at the end.
    pub(super) fn push_log(&self, text: &[u8]) {
        let mut state = self.lock();
        if state.logs.len() + text.len() > MAX_PENDING_LOGS {
            state.unshown.log_lines += lines_in(text).max(1);
            return;
        }
        state.logs.push_str(&String::from_utf8_lossy(text));
        self.changed.notify_all();
    }

    /// Drops every received line still pending, or taken and not yet
    /// shown, counted as not shown.
    pub(super) fn discard(&self) {
        let mut state = self.lock();
        let lines = lines_in(state.pending.as_slices().0) + lines_in(state.pending.as_slices().1);
        state.pending.clear();
        state.discarded = true;
        self.not_shown.drop_waiting(lines);
        state.unshown.lines += lines;
        state.unshown.unreported += lines;
    }

    /// Tells, once the chat is over, what was not shown and not yet told.
    pub(super) fn warn_unshown(&self) {
        let unshown = std::mem::take(&mut self.lock().unshown);
        if unshown.unreported > 0 {
            warn_unshown(unshown.unreported);
        }
        if unshown.log_lines > 0 {
            warn!(
                "{} not shown: the terminal could not keep up with them",
                count(unshown.log_lines, "log line")
            );
        }
    }

    /// The receiver is done: show the rest directly, then stop the printer thread.
    pub(super) fn finish(&self) {
        let mut state = self.lock();
        state.phase = Phase::Closed;
        state.finished = true;
        self.changed.notify_all();
    }

    /// The printer thread: shows pending output as soon as the editor allows,
    /// everything pending at once (up to [`MAX_BATCH`]).
    pub(super) fn print_loop(&self, mut printer: impl ExternalPrinter) {
        let mut state = self.lock();
        let mut takes_ctrl_z = false;
        loop {
            state = self.wait_while(state, |s| {
                let empty = s.pending.is_empty() && s.logs.is_empty();
                let done = s.finished && empty;
                let showable = !empty && s.phase != Phase::Waiting;
                let editor_gone = s.phase == Phase::Closed && !takes_ctrl_z;
                !(done || showable || editor_gone)
            });
            if state.phase == Phase::Closed && !takes_ctrl_z {
                // The editor is done and the terminal in its normal mode again
                // (e.g. lingering after Ctrl-D): a Ctrl-Z now is the
                // terminal's, and this thread lets it stop the process.
                suspend::take_here();
                takes_ctrl_z = true;
            }
            if state.pending.is_empty() && state.logs.is_empty() {
                if state.finished {
                    return;
                }
                continue;
            }
            let (batch, received_lines) = if state.logs.is_empty() {
                // Received lines only: a log line is ours, and starts with "udpchat:".
                let columns = terminal_size::terminal_size_of(io::stdout()).map(|(width, _)| width.0);
                take_batch(&mut state.pending, columns.map(usize::from))
            } else {
                (std::mem::take(&mut state.logs), 0)
            };
            let phase = state.phase;
            drop(state);
            let shown = match phase {
                Phase::Editing => printer.print(batch.clone()).or_else(|err| {
                    // The editor went away while we were waiting to hand it
                    // the batch: shown directly, unless Ctrl-C dropped what waits.
                    if self.lock().discarded {
                        return Err(io::Error::other("discarded"));
                    }
                    debug!("printing through the line editor failed ({err}); printing directly");
                    write_directly(&batch)
                }),
                Phase::Waiting | Phase::Closed => write_directly(&batch),
            };
            state = self.lock();
            match shown {
                Ok(()) => {
                    self.not_shown
                        .waiting
                        .fetch_sub(received_lines, Ordering::Relaxed);
                }
                Err(err) => {
                    self.not_shown.drop_waiting(received_lines);
                    if state.discarded {
                        state.unshown.lines += received_lines;
                        state.unshown.unreported += received_lines;
                    } else {
                        state.failed.get_or_insert(err);
                        let pending = state.pending.as_slices();
                        let lines = lines_in(pending.0) + lines_in(pending.1);
                        self.not_shown.drop_waiting(lines);
                        state.pending.clear();
                        self.changed.notify_all();
                    }
                }
            }
        }
    }
}

/// Takes the first lines of `pending` and cuts them into rows of fewer than
/// `columns` (as they are where the width is not known), as many as make
/// about [`MAX_BATCH`] bytes so cut, at least one; returns them and how many
/// lines they are. Costs the batch, not the rest.
fn take_batch(pending: &mut VecDeque<u8>, columns: Option<usize>) -> (String, u64) {
    let mut batch = String::new();
    let mut line = Vec::new();
    let mut lines = 0;
    while !pending.is_empty() && (lines == 0 || batch.len() < MAX_BATCH) {
        let end = pending
            .iter()
            .position(|&b| b == b'\n')
            .map_or(pending.len(), |end| end + 1);
        line.clear();
        line.extend(pending.drain(..end));
        // Whole lines of UTF-8 went in; lossy only as a safeguard.
        let text = String::from_utf8_lossy(&line);
        match columns {
            Some(columns) => rows::cut(&text, columns, &mut batch),
            None => batch.push_str(&text),
        }
        lines += 1;
    }
    (batch, lines)
}

fn write_directly(text: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// The receiver's output in interactive mode: it only appends to the screen,
/// so the receiver keeps draining the socket however slow the terminal is.
pub(super) struct ScreenWriter(pub(super) Arc<Screen>);

impl Write for ScreenWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.push(buf)?;
        Ok(buf.len())
    }

    /// Nothing to do: the printer thread shows each line as soon as it can.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A screen with a count of its own, as tests run in parallel.
#[cfg(test)]
pub(super) fn test_screen() -> Screen {
    Screen::new(Box::leak(Box::new(NotShown::new())))
}

#[cfg(test)]
mod tests {
    use std::thread;

    use super::*;
    use std::time::Duration;

    /// Stands for the line editor's printer: keeps what it is given.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<String>>);

    impl ExternalPrinter for Kept {
        fn print(&mut self, msg: String) -> rustyline::Result<()> {
            self.0.lock().unwrap().push_str(&msg);
            Ok(())
        }
    }

    #[test]
    fn counts_the_received_lines_not_yet_shown_until_the_editor_has_them() {
        let screen = Arc::new(test_screen());
        screen.push(b"one\ntwo\n").unwrap();
        screen.push_log(b"not counted: a log line\n");
        screen.push(b"three\n").unwrap();
        assert_eq!(screen.not_shown.waiting.load(Ordering::Relaxed), 3);

        let kept = Kept::default();
        let printer = thread::spawn({
            let (screen, kept) = (screen.clone(), kept.clone());
            move || screen.print_loop(kept)
        });
        screen.advance(Phase::Waiting, Phase::Editing);
        let shown = "not counted: a log line\none\ntwo\nthree\n";
        let deadline = Instant::now() + Duration::from_secs(10);
        while (kept.0.lock().unwrap().len() < shown.len()
            || screen.not_shown.waiting.load(Ordering::Relaxed) > 0)
            && Instant::now() < deadline
        {
            thread::yield_now();
        }
        assert_eq!(screen.not_shown.waiting.load(Ordering::Relaxed), 0);
        screen.finish();
        printer.join().unwrap();
        assert_eq!(*kept.0.lock().unwrap(), shown);
    }

    #[test]
    fn lines_dropped_at_ctrl_c_are_counted_as_not_shown() {
        let screen = test_screen();
        screen.push(b"one\ntwo\n").unwrap();
        screen.discard();
        assert_eq!(screen.not_shown.waiting.load(Ordering::Relaxed), 0);
        assert_eq!(screen.not_shown.dropped.load(Ordering::Relaxed), 2);
        assert_eq!(screen.lock().unshown.unreported, 2);
    }

    #[test]
    fn takes_whole_lines_in_batches_of_bounded_size() {
        let line = format!("{}\n", "x".repeat(99));
        let mut pending = VecDeque::from(line.repeat(2000).into_bytes());
        let mut batches = Vec::new();
        while !pending.is_empty() {
            batches.push(take_batch(&mut pending, None));
        }
        assert!(batches.len() > 1);
        for (batch, lines) in &batches {
            assert!(
                batch.len() < MAX_BATCH + line.len() && batch.ends_with('\n'),
                "{}",
                batch.len()
            );
            assert_eq!(lines_in(batch.as_bytes()), *lines);
        }
        let all: String = batches.into_iter().map(|(batch, _)| batch).collect();
        assert_eq!(all, line.repeat(2000));
    }

    #[test]
    fn bounds_a_batch_as_cut_into_rows_however_narrow_the_terminal() {
        // Labels wider than 20 columns, and text: each line takes 6 rows.
        let line = format!(
            "2026-11-24T10:15:03.120+01:00 <127.0.0.1:40000> {}\n",
            "f".repeat(40)
        );
        let mut pending = VecDeque::from(line.repeat(5000).into_bytes());
        let (batch, lines) = take_batch(&mut pending, Some(20));
        let mut one = String::new();
        rows::cut(&line, 20, &mut one);
        assert!(one.lines().count() > 4, "{one}");
        assert!(batch.len() < MAX_BATCH + one.len(), "{}", batch.len());
        assert_eq!(batch, one.repeat(lines as usize));
        assert_eq!(pending.len(), line.len() * (5000 - lines as usize));
    }

    #[test]
    fn takes_a_line_longer_than_a_batch_whole() {
        let long = format!("{}é\n", "y".repeat(MAX_BATCH));
        let mut pending = VecDeque::from(format!("{long}short\n").into_bytes());
        assert_eq!(take_batch(&mut pending, None), (long, 1));
        assert_eq!(pending, b"short\n");
    }

    #[test]
    fn takes_a_batch_across_the_rings_end() {
        let mut pending = VecDeque::with_capacity(16);
        pending.extend(b"0123456789\n");
        for _ in 0..9 {
            pending.pop_front();
        }
        pending.extend(b"abcdefghij\n");
        assert!(!pending.as_slices().1.is_empty(), "the ring did not wrap");
        assert_eq!(take_batch(&mut pending, None), ("9\nabcdefghij\n".to_owned(), 2));
        assert!(pending.is_empty());
    }

    #[test]
    fn a_batch_the_editor_no_longer_takes_after_ctrl_c_is_counted_not_shown() {
        /// Stands for an editor that has gone away.
        struct Gone;
        impl ExternalPrinter for Gone {
            fn print(&mut self, _msg: String) -> rustyline::Result<()> {
                Err(io::Error::other("gone").into())
            }
        }
        let screen = Arc::new(test_screen());
        screen.push(b"one\ntwo\n").unwrap();
        screen.lock().discarded = true;
        screen.advance(Phase::Waiting, Phase::Editing);
        let printer = thread::spawn({
            let screen = screen.clone();
            move || screen.print_loop(Gone)
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while screen.not_shown.waiting.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
            thread::yield_now();
        }
        screen.finish();
        printer.join().unwrap();
        assert_eq!(screen.not_shown.dropped.load(Ordering::Relaxed), 2);
        assert_eq!(screen.lock().unshown.unreported, 2);
    }

    #[test]
    fn received_lines_beyond_the_bound_are_counted_not_kept() {
        let screen = test_screen();
        let line = format!("{}\n", "z".repeat(1399));
        let lines = MAX_PENDING / line.len() + 10;
        for _ in 0..lines {
            screen.push(line.as_bytes()).unwrap();
        }
        let state = screen.lock();
        assert!(state.pending.len() <= MAX_PENDING);
        assert_eq!(state.pending.capacity(), MAX_PENDING, "the ring grew");
        let kept = (MAX_PENDING / line.len()) as u64;
        assert_eq!(
            (state.unshown.lines, lines_in(state.pending.as_slices().0)),
            (lines as u64 - kept, kept)
        );
    }

    #[test]
    fn a_warning_about_lines_not_shown_comes_at_once_then_at_most_once_a_second() {
        let mut unshown = Unshown::default();
        let start = Instant::now();
        assert_eq!(unshown.add(3, start), Some(3));
        assert_eq!(unshown.add(2, start + Duration::from_millis(500)), None);
        assert_eq!(unshown.add(1, start + Duration::from_millis(900)), None);
        assert_eq!(unshown.add(4, start + Duration::from_millis(1000)), Some(7));
        assert_eq!((unshown.lines, unshown.unreported), (10, 0));
    }

    #[test]
    fn holds_output_until_the_editor_shows_its_line_and_after_it_accepts_one() {
        let screen = test_screen();
        assert_eq!(screen.lock().phase, Phase::Waiting);
        screen.advance(Phase::Waiting, Phase::Editing);
        assert_eq!(screen.lock().phase, Phase::Editing);
        screen.advance(Phase::Editing, Phase::Waiting);
        assert_eq!(screen.lock().phase, Phase::Waiting);
        screen.close();
        // A hook that runs late cannot reopen a closed editor.
        screen.advance(Phase::Waiting, Phase::Editing);
        assert_eq!(screen.lock().phase, Phase::Closed);
    }
}
