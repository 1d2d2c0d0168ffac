//! The interactive path: a line editor for input, received lines shown above it, and the terminal left as found.
//!
//! When stdin and stdout are both terminals, the user types into rustyline
//! (line editing, in-session history) while the receiver's lines go through
//! rustyline's `ExternalPrinter`, which clears the input line, prints them, and
//! draws the prompt, the half-typed text and the cursor again below them.
//!
//! Three threads meet on one `Screen`: the receiver appends lines to it and
//! never waits for the terminal (a burst of 10,000 lines must not back up into
//! the kernel's receive buffer and be dropped there); a `printer` thread hands
//! everything pending to the editor as one print, so a burst costs a few
//! redraws, not one per line; and the sender thread, inside `readline`, tells
//! the screen when the editor shows its line and when it stops.
//!
//! What waits for the terminal is bounded: a ring of [`MAX_PENDING`] bytes,
//! allocated once, so neither a flood nor the size of its datagrams can
//! grow it, and taking a batch out costs the batch, not the backlog. A line
//! that finds no room is not shown: it is counted and told as the kernel's
//! drops are, at once, then at most once a second, and at the end.
//!
//! That last part is needed because rustyline's printer writes straight to the
//! terminal while no `readline` runs, but queues while one does, and a print
//! queued in the instant the user presses Enter is shown only when the next
//! `readline` starts. Output that went straight to the terminal in between
//! would overtake it. So the screen holds output from the moment the editor
//! accepts a line (our `Validator` runs then) until it has drawn the next
//! prompt (our `Hinter` runs then). A batch taken just before Enter and
//! handed over just after it finds the editor out of raw mode, with an
//! earlier one possibly still queued: the vendored rustyline's printer then
//! queues it behind that one rather than writing it, and the order of lines
//! is kept.
//!
//! Keys can come faster than lines are taken: a paste without bracketed
//! paste, several lines in one write, typeahead before the editor starts.
//! rustyline reads the terminal through a buffer and, unless built with its
//! `buffer-redux` feature, drops what that buffer read beyond the line it
//! returns, so every line after the first of such a write was lost. The
//! feature hands the unread bytes on to the next `readline`.
//!
//! Where rustyline cannot run an editor (`TERM=dumb`), the `dumb` module
//! takes the keys and echoes them itself, so that received lines still
//! start on a row of their own.
//!
//! A limit remains: a batch handed to the editor in the very instant the user
//! presses Ctrl-D or Ctrl-C (no hook runs then) is dropped with the editor,
//! unshown; the chat is ending, and the datagrams were received and counted.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Instant;

use log::{debug, info, warn};
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Editor, ExternalPrinter};

use crate::throttle::Throttle;
use crate::words::count;
use udpchat::{Chat, Ended, Error, ShutdownHandle, Summary, display};

#[cfg(all(unix, not(any(target_os = "aix", target_os = "haiku"))))]
mod dumb;
mod rows;

/// One print to the editor holds at most about this much, cut at a line end,
/// so that a key pressed during a burst waits for one such write at most.
const MAX_BATCH: usize = 64 * 1024;

/// Received lines waiting for the terminal take at most this many bytes.
/// A terminal shows a few MiB a second at best, so more would only make the
/// screen lag further behind; the longest line there can be (a 65,535-byte
/// datagram of invalid bytes, shown as `\xNN` each, with its labels) fits
/// 15 times over.
const MAX_PENDING: usize = 4 * 1024 * 1024;

/// Log lines waiting for the terminal take at most this many bytes: they are
/// few (warnings come at most once a second), but `-vvv` logs per datagram.
const MAX_PENDING_LOGS: usize = 256 * 1024;

/// Received lines handed to the line editor's screen and not yet on the terminal.
static LINES_WAITING: AtomicU64 = AtomicU64::new(0);

/// How many received lines are waiting for the terminal now: taken in, not
/// yet shown (0 when no line editor runs). Takes no lock, so it answers at
/// once even while the printer is blocked on the terminal: for a process
/// about to exit at once, to say what it leaves unshown.
pub fn lines_not_yet_shown() -> u64 {
    LINES_WAITING.load(Ordering::Relaxed)
}

/// True when both stdin and stdout are terminals: a person is typing and reading.
pub fn is_interactive() -> bool {
    io::stdin().is_terminal() && io::stdout().is_terminal()
}

/// Readies the process for [`run`], so that Ctrl-Z in the line editor stops
/// it and `fg` brings the editor back. Call it on the thread that will call
/// [`run`], before that thread starts any other (a Ctrl-C handler's
/// included): those threads then leave SIGTSTP to the editor's. Not needed
/// where no thread starts before [`run`], which does it for its own threads.
pub fn prepare() {
    suspend::leave_to_the_editor();
}

/// Runs `chat` with a line editor on the terminal, the prompt naming `peer`.
///
/// Ctrl-D on an empty line ends the input, as end of file does; Ctrl-C ends
/// the chat as SIGINT does ([`Ended::Interrupted`]);
/// Ctrl-Z stops the process (see [`prepare`]) until the shell's `fg`.
/// Where no line editor can run (e.g. `TERM=dumb`) udpchat echoes the keys
/// itself (see `dumb`), or, on a terminal that echoes nothing (Emacs's
/// shell), runs the plain line mode on stdin and stdout.
pub fn run(chat: Chat, peer: &str) -> Result<Summary, Error> {
    // Before starting a thread: each one inherits this thread's signal mask.
    suspend::leave_to_the_editor();
    let summary = run_editor(chat, peer);
    suspend::take_here();
    summary
}

fn run_editor(chat: Chat, peer: &str) -> Result<Summary, Error> {
    mode::save();
    let screen = Arc::new(Screen::new(&LINES_WAITING));
    let config = rustyline::Config::builder().auto_add_history(true).build();
    let started = Editor::with_config(config).and_then(|mut editor| {
        editor.set_helper(Some(Hooks(screen.clone())));
        let printer = editor.create_external_printer()?;
        Ok((editor, printer))
    });
    let prompt = format!("to {}> ", display::sanitize(peer.as_bytes()));
    let (editor, printer) = match started {
        Ok(started) => started,
        Err(err) => {
            // nix's errors end in a newline.
            let err = err.to_string();
            info!(
                "no line editor on this terminal ({}); udpchat echoes the keys itself",
                err.trim_end()
            );
            if let Some(typing) = dumb::take_over(prompt) {
                return dumb::run(chat, typing);
            }
            // The terminal stops us on Ctrl-Z itself, whichever thread it picks.
            suspend::take_here();
            return chat.run(BufReader::new(io::stdin()), io::stdout());
        }
    };
    mode::editor_started();
    let printer = thread::Builder::new()
        .name("printer".into())
        .spawn({
            let screen = screen.clone();
            move || screen.print_loop(printer)
        })
        .map_err(|source| Error::Io {
            op: "start the printer thread",
            source,
        })?;
    let logs = io::stderr().is_terminal().then(|| LogsAbove::start(&screen));
    let input = EditorInput {
        editor,
        prompt,
        line: Vec::new(),
        read: 0,
        ended: false,
        screen: screen.clone(),
        interrupt: chat.shutdown_handle(),
    };
    let summary = chat.run(input, ScreenWriter(screen.clone()));
    // The receiver has stopped. Show what it left without the editor, which
    // may still sit in `readline` (after SIGTERM) and would never take it;
    // unless the user interrupted: a flood's backlog would hold the exit.
    drop(logs);
    if summary
        .as_ref()
        .is_ok_and(|summary| summary.ended == Ended::Interrupted)
    {
        screen.discard();
    }
    screen.finish();
    let _ = printer.join();
    mode::restore();
    screen.waiting.store(0, Ordering::Relaxed);
    screen.warn_unshown();
    summary
}

/// Puts the terminal back in the mode it had when [`run`] started, if the
/// line editor left it raw. For a process about to exit at once (a second
/// Ctrl-C); every other way out of [`run`], a panic included, does it itself.
pub fn restore() {
    mode::restore();
}

/// Where the editor is, as far as output is concerned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Phase {
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

/// Output on its way to the terminal, shared by the receiver (through
/// [`ScreenWriter`]), the printer thread and the editor's hooks.
struct Screen {
    state: Mutex<ScreenState>,
    /// Signalled on every change of `state`; each waiter checks its own condition.
    changed: Condvar,
    /// Received lines taken in and not yet shown, readable without the lock
    /// (see [`lines_not_yet_shown`]).
    waiting: &'static AtomicU64,
}

struct ScreenState {
    phase: Phase,
    /// Whole received lines not yet shown, in order, at most [`MAX_PENDING`]
    /// bytes of UTF-8: a ring allocated once, resident only as far as used.
    pending: VecDeque<u8>,
    /// Whole log lines not yet shown, at most [`MAX_PENDING_LOGS`] bytes;
    /// shown before the received lines pending, so a warning is not held
    /// behind the backlog it warns about.
    logs: String,
    /// Set once the receiver has written its last line.
    finished: bool,
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
    /// A screen that counts the lines it holds in `waiting`.
    fn new(waiting: &'static AtomicU64) -> Screen {
        Screen {
            state: Mutex::default(),
            changed: Condvar::new(),
            waiting,
        }
    }

    fn lock(&self) -> MutexGuard<'_, ScreenState> {
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
    fn advance(&self, from: Phase, to: Phase) {
        let mut state = self.lock();
        if state.phase == from {
            state.phase = to;
            self.changed.notify_all();
        }
    }

    fn close(&self) {
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
        self.waiting.fetch_add(lines_in(&text[..fits]), Ordering::Relaxed);
        self.changed.notify_all();
        let dropped = lines_in(&text[fits..]);
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
    fn push_log(&self, text: &[u8]) {
        let mut state = self.lock();
        if state.logs.len() + text.len() > MAX_PENDING_LOGS {
            state.unshown.log_lines += lines_in(text).max(1);
            return;
        }
        state.logs.push_str(&String::from_utf8_lossy(text));
        self.changed.notify_all();
    }

    /// Drops every received line still pending, counted as not shown.
    fn discard(&self) {
        let mut state = self.lock();
        let lines = lines_in(state.pending.as_slices().0) + lines_in(state.pending.as_slices().1);
        state.pending.clear();
        self.waiting.fetch_sub(lines, Ordering::Relaxed);
        state.unshown.lines += lines;
        state.unshown.unreported += lines;
    }

    /// Tells, once the chat is over, what was not shown and not yet told.
    fn warn_unshown(&self) {
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
    fn finish(&self) {
        let mut state = self.lock();
        state.phase = Phase::Closed;
        state.finished = true;
        self.changed.notify_all();
    }

    /// The printer thread: shows pending output as soon as the editor allows,
    /// everything pending at once (up to [`MAX_BATCH`]).
    fn print_loop(&self, mut printer: impl ExternalPrinter) {
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
                let batch = take_batch(&mut state.pending);
                let lines = lines_in(batch.as_bytes());
                (batch, lines)
            } else {
                (std::mem::take(&mut state.logs), 0)
            };
            let phase = state.phase;
            drop(state);
            // Received lines only: a log line is ours, and starts with "udpchat:".
            let batch = if received_lines > 0
                && let Some((width, _)) = terminal_size::terminal_size_of(io::stdout())
            {
                let mut rows = String::with_capacity(batch.len() + batch.len() / 8);
                rows::cut(&batch, usize::from(width.0), &mut rows);
                rows
            } else {
                batch
            };
            let shown = match phase {
                Phase::Editing => printer.print(batch.clone()).or_else(|err| {
                    // The editor went away while we were waiting to hand it the batch.
                    debug!("printing through the line editor failed ({err}); printing directly");
                    write_directly(&batch)
                }),
                Phase::Waiting | Phase::Closed => write_directly(&batch),
            };
            self.waiting.fetch_sub(received_lines, Ordering::Relaxed);
            state = self.lock();
            if let Err(err) = shown {
                state.failed.get_or_insert(err);
                let lines = lines_in(state.pending.as_slices().0) + lines_in(state.pending.as_slices().1);
                self.waiting.fetch_sub(lines, Ordering::Relaxed);
                state.pending.clear();
                self.changed.notify_all();
            }
        }
    }
}

/// Takes the first lines of `pending`, about [`MAX_BATCH`] bytes, whole
/// lines only: a copy of the batch, never of the rest.
fn take_batch(pending: &mut VecDeque<u8>) -> String {
    let cut = if pending.len() <= MAX_BATCH {
        pending.len()
    } else {
        match pending.range(..MAX_BATCH).rposition(|&b| b == b'\n') {
            Some(end) => end + 1,
            None => pending
                .range(MAX_BATCH..)
                .position(|&b| b == b'\n')
                .map_or(pending.len(), |end| MAX_BATCH + end + 1),
        }
    };
    let (front, back) = pending.as_slices();
    let mut batch = Vec::with_capacity(cut);
    batch.extend_from_slice(&front[..cut.min(front.len())]);
    batch.extend_from_slice(&back[..cut.saturating_sub(front.len())]);
    pending.drain(..cut);
    // Whole lines of UTF-8 went in, and `cut` follows a '\n'.
    String::from_utf8(batch).unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
}

fn write_directly(text: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// The receiver's output in interactive mode: it only appends to the screen,
/// so the receiver keeps draining the socket however slow the terminal is.
struct ScreenWriter(Arc<Screen>);

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

/// Log lines, for env_logger's `Target::Pipe`: written to stderr, except
/// while a line editor runs and stderr is a terminal (the same one, in
/// practice), when they are shown above the input line like received
/// lines, instead of breaking into it.
pub struct LogOutput;

/// The screen that log lines go to while a line editor runs.
static LOG_SCREEN: Mutex<Option<Arc<Screen>>> = Mutex::new(None);

fn log_screen() -> MutexGuard<'static, Option<Arc<Screen>>> {
    LOG_SCREEN.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Write for LogOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let screen = log_screen().clone();
        match screen {
            // Never waits for room: a log line must not stall the thread that writes it.
            Some(screen) => {
                screen.push_log(buf);
                Ok(buf.len())
            }
            None => match dumb::log_line() {
                Some(line) => line.show(buf, true).map(|()| buf.len()),
                None => io::stderr().write(buf),
            },
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// Sends log lines to `screen` until dropped.
struct LogsAbove;

impl LogsAbove {
    fn start(screen: &Arc<Screen>) -> LogsAbove {
        *log_screen() = Some(screen.clone());
        LogsAbove
    }
}

impl Drop for LogsAbove {
    fn drop(&mut self) {
        *log_screen() = None;
    }
}

/// The editor's helper, used only for two hooks that tell the [`Screen`]
/// where the editor is (see the module documentation).
struct Hooks(Arc<Screen>);

impl Hinter for Hooks {
    type Hint = String;

    /// Called each time the editor draws its line, the first time right after
    /// `readline` has put the terminal in raw mode: from then on, its printer
    /// queues what we print and draws it above the line.
    fn hint(&self, _line: &str, _pos: usize, _ctx: &rustyline::Context<'_>) -> Option<String> {
        self.0.advance(Phase::Waiting, Phase::Editing);
        None
    }
}

impl Validator for Hooks {
    /// Called when Enter is pressed, before `readline` returns the line: hold
    /// output until the next prompt is drawn.
    fn validate(&self, _ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        self.0.advance(Phase::Editing, Phase::Waiting);
        Ok(ValidationResult::Valid(None))
    }
}

impl Completer for Hooks {
    type Candidate = String;
}

impl Highlighter for Hooks {}

impl rustyline::Helper for Hooks {}

/// The sender's input in interactive mode: each line the editor returns,
/// followed by `\n`, so the sender frames it like a line from a pipe.
struct EditorInput {
    editor: Editor<Hooks, DefaultHistory>,
    prompt: String,
    line: Vec<u8>,
    read: usize,
    ended: bool,
    screen: Arc<Screen>,
    interrupt: ShutdownHandle,
}

impl EditorInput {
    fn end(&mut self) {
        self.ended = true;
        self.screen.close();
    }
}

impl BufRead for EditorInput {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.read == self.line.len() && !self.ended {
            self.line.clear();
            self.read = 0;
            // This thread, and no other, takes the SIGTSTP the editor sends
            // itself on Ctrl-Z (see `suspend`); a system call per line typed.
            suspend::take_here();
            match self.editor.readline(&self.prompt) {
                Ok(line) => {
                    self.line.extend_from_slice(line.as_bytes());
                    // A bracketed paste of whole lines ends in its own
                    // newline: K pasted lines and Enter are K lines, not K+1.
                    if !line.ends_with('\n') {
                        self.line.push(b'\n');
                    }
                }
                // Ctrl-D on an empty line.
                Err(ReadlineError::Eof) => self.end(),
                // Ctrl-C: the editor turned the terminal's signals off, so no
                // SIGINT came; stop the chat as its handler would.
                Err(ReadlineError::Interrupted) => {
                    self.interrupt.interrupt();
                    self.end();
                }
                Err(err) => {
                    self.end();
                    return Err(match err {
                        ReadlineError::Io(err) => err,
                        other => io::Error::other(other),
                    });
                }
            }
        }
        Ok(&self.line[self.read..])
    }

    fn consume(&mut self, amount: usize) {
        self.read += amount;
    }
}

impl Read for EditorInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let amount = available.len().min(buf.len());
        buf[..amount].copy_from_slice(&available[..amount]);
        self.consume(amount);
        Ok(amount)
    }
}

impl Drop for EditorInput {
    /// The sender is done. Dropping the editor then also releases a print
    /// blocked on its queue (`send` fails), which is printed directly instead.
    fn drop(&mut self) {
        self.screen.close();
    }
}

/// Saving and restoring the terminal's mode around the line editor.
///
/// rustyline puts the terminal in raw mode inside each `readline` and back
/// when it returns. But the sender thread is not waited for: when the chat
/// ends some other way (SIGTERM, an error, a panic) it may be inside
/// `readline`, and the process would exit with the terminal raw, not echoing,
/// with bracketed paste on. rustyline offers no hook for that, so we save the
/// mode before the first `readline` and put it back when [`run`] returns,
/// from a panic hook, and from `main` before a second Ctrl-C exits at once.
#[cfg(unix)]
mod mode {
    use std::os::fd::{AsFd, OwnedFd};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, Once, OnceLock, TryLockError};

    use log::debug;
    use nix::sys::termios::{LocalFlags, SetArg, Termios, tcgetattr, tcsetattr};

    /// Turns bracketed paste off again, as rustyline does when it leaves raw mode.
    const BRACKETED_PASTE_OFF: &[u8] = b"\x1b[?2004l";

    /// The terminal's mode as found, and where to put it back.
    pub(super) struct SavedMode {
        /// A duplicate of the terminal's input, whose mode is saved.
        input: OwnedFd,
        /// A duplicate of the terminal's output, for the last touches.
        output: OwnedFd,
        termios: Termios,
    }

    /// In a mutex only because nix's `Termios` is not `Sync`.
    static SAVED: OnceLock<Mutex<SavedMode>> = OnceLock::new();

    /// The line editor runs, and may have turned bracketed paste on. Where
    /// none can run (`TERM=dumb`) the escape to turn it off would show as text.
    static EDITOR_STARTED: AtomicBool = AtomicBool::new(false);

    /// The line editor runs: putting the mode back also turns bracketed paste off.
    pub(super) fn editor_started() {
        EDITOR_STARTED.store(true, Ordering::Relaxed);
    }

    /// Saves stdin's mode (once per process) and installs the panic hook.
    pub(super) fn save() {
        match SavedMode::capture(std::io::stdin().as_fd(), std::io::stdout().as_fd()) {
            Ok(saved) => remember(saved),
            Err(err) => debug!("cannot save the terminal's mode: {err}"),
        }
    }

    pub(super) fn remember(saved: SavedMode) {
        let _ = SAVED.set(Mutex::new(saved));
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                previous(info);
            }));
        });
    }

    pub(super) fn restore() {
        let Some(saved) = SAVED.get() else {
            return;
        };
        // try_lock: a second restorer (a panic during the first) must not wait.
        match saved.try_lock() {
            Ok(saved) => saved.restore(),
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner().restore(),
            Err(TryLockError::WouldBlock) => {}
        }
    }

    impl SavedMode {
        pub(super) fn capture(input: impl AsFd, output: impl AsFd) -> std::io::Result<SavedMode> {
            let input = input.as_fd();
            Ok(SavedMode {
                termios: tcgetattr(input)?,
                input: input.try_clone_to_owned()?,
                output: output.as_fd().try_clone_to_owned()?,
            })
        }

        /// Puts the saved mode back if the terminal was left raw (no canonical
        /// line input where there was) and ends the half-drawn input line, so
        /// the shell's prompt starts on a line of its own. Writes through the
        /// file descriptors, taking no lock: a panicking thread may hold stdout's.
        pub(super) fn restore(&self) {
            let Ok(now) = tcgetattr(&self.input) else {
                return;
            };
            let was_canonical = self.termios.local_flags.contains(LocalFlags::ICANON);
            if was_canonical && !now.local_flags.contains(LocalFlags::ICANON) {
                let _ = tcsetattr(&self.input, SetArg::TCSANOW, &self.termios);
                if EDITOR_STARTED.load(Ordering::Relaxed) {
                    let _ = nix::unistd::write(&self.output, BRACKETED_PASTE_OFF);
                }
                let _ = nix::unistd::write(&self.output, b"\r\n");
            }
        }
    }
}

/// Ctrl-Z in the line editor, in a process with several threads.
///
/// In raw mode the terminal sends no signals: rustyline reads Ctrl-Z as a key
/// and suspends the process itself. It puts the terminal back in its normal
/// mode, sends SIGTSTP to its process group with `kill`, and when `kill`
/// returns, takes raw mode again and redraws the line, taking for granted that
/// the process stopped and was continued (`fg`) in between. With one thread
/// that holds. With several, the kernel may hand the signal to another thread
/// and `kill` return at once: the editor then takes raw mode back *before* the
/// process stops, the shell's `fg` hands the terminal back in its normal mode,
/// and the line is not redrawn; keys echo twice until Enter.
///
/// POSIX promises the order only when the signal is blocked in every other
/// thread: it is then delivered to the thread calling `kill` before `kill`
/// returns. So in an interactive chat every thread blocks SIGTSTP except the
/// one in `readline`, and the printer thread once the editor is done, so that
/// the terminal's own Ctrl-Z still stops the process then. Without a line
/// editor nothing is blocked: the terminal stops the process, whichever
/// thread gets the signal.
/// See: <https://pubs.opengroup.org/onlinepubs/9799919799/functions/kill.html>
#[cfg(unix)]
mod suspend {
    use log::debug;
    use nix::sys::signal::{SigSet, Signal};

    fn sigtstp() -> SigSet {
        let mut set = SigSet::empty();
        set.add(Signal::SIGTSTP);
        set
    }

    /// Blocks SIGTSTP in this thread and in the threads it starts from now on.
    pub(super) fn leave_to_the_editor() {
        if let Err(err) = sigtstp().thread_block() {
            debug!("cannot block SIGTSTP: {err}");
        }
    }

    /// Lets SIGTSTP stop the process in this thread.
    pub(super) fn take_here() {
        if let Err(err) = sigtstp().thread_unblock() {
            debug!("cannot unblock SIGTSTP: {err}");
        }
    }
}

/// Elsewhere there is no SIGTSTP, nor Ctrl-Z to suspend a program.
#[cfg(not(unix))]
mod suspend {
    pub(super) fn leave_to_the_editor() {}
    pub(super) fn take_here() {}
}

/// Elsewhere (a Windows console, or a system without the editing keys
/// `dumb` reads) udpchat leaves the keys to the terminal where no line
/// editor can run.
#[cfg(not(all(unix, not(any(target_os = "aix", target_os = "haiku")))))]
mod dumb {
    use udpchat::{Chat, Error, Summary};

    /// Never made here.
    pub(super) enum Typing {}

    /// Never made here.
    pub(super) enum Line {}

    impl Line {
        pub(super) fn show(&self, _text: &[u8], _on_stderr: bool) -> std::io::Result<()> {
            match *self {}
        }
    }

    pub(super) fn take_over(_prompt: String) -> Option<Typing> {
        None
    }

    pub(super) fn log_line() -> Option<std::sync::Arc<Line>> {
        None
    }

    pub(super) fn run(_chat: Chat, typing: Typing) -> Result<Summary, Error> {
        match typing {}
    }
}

/// Elsewhere rustyline restores the console itself when `readline` returns;
/// a chat ended while it reads may leave it in its line-editing mode.
#[cfg(not(unix))]
mod mode {
    pub(super) fn save() {}
    pub(super) fn editor_started() {}
    pub(super) fn restore() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A screen with a count of its own, as tests run in parallel.
    fn test_screen() -> Screen {
        Screen::new(Box::leak(Box::new(AtomicU64::new(0))))
    }

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
        assert_eq!(screen.waiting.load(Ordering::Relaxed), 3);

        let kept = Kept::default();
        let printer = thread::spawn({
            let (screen, kept) = (screen.clone(), kept.clone());
            move || screen.print_loop(kept)
        });
        screen.advance(Phase::Waiting, Phase::Editing);
        let shown = "not counted: a log line\none\ntwo\nthree\n";
        let deadline = Instant::now() + Duration::from_secs(10);
        while (kept.0.lock().unwrap().len() < shown.len() || screen.waiting.load(Ordering::Relaxed) > 0)
            && Instant::now() < deadline
        {
            thread::yield_now();
        }
        assert_eq!(screen.waiting.load(Ordering::Relaxed), 0);
        screen.finish();
        printer.join().unwrap();
        assert_eq!(*kept.0.lock().unwrap(), shown);
    }

    #[test]
    fn lines_dropped_at_ctrl_c_are_counted_as_not_shown() {
        let screen = test_screen();
        screen.push(b"one\ntwo\n").unwrap();
        screen.discard();
        assert_eq!(screen.waiting.load(Ordering::Relaxed), 0);
        assert_eq!(screen.lock().unshown.unreported, 2);
    }

    #[test]
    fn takes_whole_lines_in_batches_of_bounded_size() {
        let line = format!("{}\n", "x".repeat(99));
        let mut pending = VecDeque::from(line.repeat(2000).into_bytes());
        let mut batches = Vec::new();
        while !pending.is_empty() {
            batches.push(take_batch(&mut pending));
        }
        assert!(batches.len() > 1);
        for batch in &batches {
            assert!(
                batch.len() <= MAX_BATCH && batch.ends_with('\n'),
                "{}",
                batch.len()
            );
        }
        assert_eq!(batches.concat(), line.repeat(2000));
    }

    #[test]
    fn takes_a_line_longer_than_a_batch_whole() {
        let long = format!("{}é\n", "y".repeat(MAX_BATCH));
        let mut pending = VecDeque::from(format!("{long}short\n").into_bytes());
        assert_eq!(take_batch(&mut pending), long);
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
        assert_eq!(take_batch(&mut pending), "9\nabcdefghij\n");
        assert!(pending.is_empty());
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

    #[test]
    fn log_lines_go_above_the_input_line_while_the_editor_runs() {
        let screen = Arc::new(test_screen());
        let logs = LogsAbove::start(&screen);
        LogOutput
            .write_all(b"udpchat: warning: shown above the prompt\n")
            .unwrap();
        assert_eq!(screen.lock().logs, "udpchat: warning: shown above the prompt\n");
        drop(logs);
        assert!(log_screen().is_none());
    }

    #[cfg(unix)]
    #[test]
    fn a_panic_puts_the_terminal_back_in_its_saved_mode() {
        use nix::sys::termios::{LocalFlags, SetArg, cfmakeraw, tcgetattr, tcsetattr};
        let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
        assert!(
            tcgetattr(&pty.slave)
                .unwrap()
                .local_flags
                .contains(LocalFlags::ICANON)
        );
        mode::remember(mode::SavedMode::capture(&pty.slave, &pty.slave).unwrap());
        let mut raw = tcgetattr(&pty.slave).unwrap();
        cfmakeraw(&mut raw);
        tcsetattr(&pty.slave, SetArg::TCSANOW, &raw).unwrap();

        let panicked = thread::spawn(|| panic!("a bug while the line editor holds the terminal")).join();

        assert!(panicked.is_err());
        assert!(
            tcgetattr(&pty.slave)
                .unwrap()
                .local_flags
                .contains(LocalFlags::ICANON)
        );
    }
}
