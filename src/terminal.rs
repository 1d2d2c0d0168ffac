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
//! That last part is needed because rustyline's printer writes straight to the
//! terminal while no `readline` runs, but queues while one does, and a print
//! queued in the instant the user presses Enter is shown only when the next
//! `readline` starts. Output that went straight to the terminal in between
//! would overtake it. So the screen holds output from the moment the editor
//! accepts a line (our `Validator` runs then) until it has drawn the next
//! prompt (our `Hinter` runs then), and the order of lines is kept.
//!
//! A limit remains: a batch handed to the editor in the very instant the user
//! presses Ctrl-D or Ctrl-C (no hook runs then) is dropped with the editor,
//! unshown; the chat is ending, and the datagrams were received and counted.

use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;

use log::{debug, info};
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Editor, ExternalPrinter};

use udpchat::{Chat, Error, ShutdownHandle, Summary, display};

/// One print to the editor holds at most about this much, cut at a line end,
/// so that a key pressed during a burst waits for one such write at most.
const MAX_BATCH: usize = 64 * 1024;

/// Output waiting for the terminal is capped here; beyond it the receiver
/// waits, as it would for a full pipe, and the kernel buffers or drops.
const MAX_PENDING: usize = 16 * 1024 * 1024;

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
/// the chat as SIGINT does ([`Ended::Interrupted`](udpchat::Ended::Interrupted));
/// Ctrl-Z stops the process (see [`prepare`]) until the shell's `fg`.
/// Where no line editor can run (e.g. `TERM=dumb`) it runs the plain line
/// mode on stdin and stdout instead.
pub fn run(chat: Chat, peer: &str) -> Result<Summary, Error> {
    // Before starting a thread: each one inherits this thread's signal mask.
    suspend::leave_to_the_editor();
    let summary = run_editor(chat, peer);
    suspend::take_here();
    summary
}

fn run_editor(chat: Chat, peer: &str) -> Result<Summary, Error> {
    mode::save();
    let screen = Arc::new(Screen::default());
    let config = rustyline::Config::builder().auto_add_history(true).build();
    let started = Editor::with_config(config).and_then(|mut editor| {
        editor.set_helper(Some(Hooks(screen.clone())));
        let printer = editor.create_external_printer()?;
        Ok((editor, printer))
    });
    let (editor, printer) = match started {
        Ok(started) => started,
        Err(err) => {
            // nix's errors end in a newline.
            let err = err.to_string();
            info!(
                "no line editor on this terminal ({}); reading lines as they come",
                err.trim_end()
            );
            // The terminal stops us on Ctrl-Z itself, whichever thread it picks.
            suspend::take_here();
            return chat.run(BufReader::new(io::stdin()), io::stdout());
        }
    };
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
        prompt: format!("to {}> ", display::sanitize(peer.as_bytes())),
        line: Vec::new(),
        read: 0,
        ended: false,
        screen: screen.clone(),
        interrupt: chat.shutdown_handle(),
    };
    let summary = chat.run(input, ScreenWriter(screen.clone()));
    // The receiver has stopped. Show what it left without the editor, which
    // may still sit in `readline` (after SIGTERM) and would never take it.
    drop(logs);
    screen.finish();
    let _ = printer.join();
    mode::restore();
    summary
}

/// Puts the terminal back in the mode it had when [`run`] started, if the
/// line editor left it raw. For a process about to exit at once (a second
/// Ctrl-C); every other way out of [`run`], a panic included, does it itself.
pub fn restore() {
    mode::restore();
}

/// Received lines the terminal has not shown yet; never blocks. (A stub:
/// the terminal branch provides the real count.)
pub fn lines_not_yet_shown() -> u64 {
    0
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
#[derive(Default)]
struct Screen {
    state: Mutex<ScreenState>,
    /// Signalled on every change of `state`; each waiter checks its own condition.
    changed: Condvar,
}

#[derive(Default)]
struct ScreenState {
    phase: Phase,
    /// Whole lines not yet shown, in order.
    pending: String,
    /// Set once the receiver has written its last line.
    finished: bool,
    /// Why the terminal could not be written, for the receiver to stop on.
    failed: Option<io::Error>,
}

impl Screen {
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

    /// Appends whole lines to be shown. With `wait_for_room`, waits while
    /// [`MAX_PENDING`] bytes are pending; fails once the terminal has failed.
    fn push(&self, text: &[u8], wait_for_room: bool) -> io::Result<()> {
        let state = self.lock();
        let mut state = self.wait_while(state, |s| {
            wait_for_room && s.pending.len() >= MAX_PENDING && s.failed.is_none()
        });
        if let Some(err) = state.failed.take() {
            return Err(err);
        }
        // Whole lines of UTF-8 come in; lossy only as a safeguard.
        state.pending.push_str(&String::from_utf8_lossy(text));
        self.changed.notify_all();
        Ok(())
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
                let done = s.finished && s.pending.is_empty();
                let showable = !s.pending.is_empty() && s.phase != Phase::Waiting;
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
            if state.pending.is_empty() {
                if state.finished {
                    return;
                }
                continue;
            }
            let batch = take_batch(&mut state.pending);
            let phase = state.phase;
            self.changed.notify_all(); // room for a waiting receiver
            drop(state);
            let shown = match phase {
                Phase::Editing => printer.print(batch.clone()).or_else(|err| {
                    // The editor went away while we were waiting to hand it the batch.
                    debug!("printing through the line editor failed ({err}); printing directly");
                    write_directly(&batch)
                }),
                Phase::Waiting | Phase::Closed => write_directly(&batch),
            };
            state = self.lock();
            if let Err(err) = shown {
                state.failed.get_or_insert(err);
                state.pending.clear();
                self.changed.notify_all();
            }
        }
    }
}

/// Takes the first lines of `pending`, about [`MAX_BATCH`] bytes, whole lines only.
fn take_batch(pending: &mut String) -> String {
    if pending.len() <= MAX_BATCH {
        return std::mem::take(pending);
    }
    let bytes = pending.as_bytes();
    let cut = match bytes[..MAX_BATCH].iter().rposition(|&b| b == b'\n') {
        Some(end) => end + 1,
        None => bytes[MAX_BATCH..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |end| MAX_BATCH + end + 1),
    };
    // `cut` follows a '\n', so it is a char boundary.
    let rest = pending.split_off(cut);
    std::mem::replace(pending, rest)
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
        self.0.push(buf, true)?;
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
            Some(screen) => screen.push(buf, false).map(|()| buf.len()),
            None => io::stderr().write(buf),
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
                    self.line.push(b'\n');
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
                let _ = nix::unistd::write(&self.output, BRACKETED_PASTE_OFF);
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
/// See: https://pubs.opengroup.org/onlinepubs/9799919799/functions/kill.html
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

/// Elsewhere rustyline restores the console itself when `readline` returns;
/// a chat ended while it reads may leave it in its line-editing mode.
#[cfg(not(unix))]
mod mode {
    pub(super) fn save() {}
    pub(super) fn restore() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_whole_lines_in_batches_of_bounded_size() {
        let line = format!("{}\n", "x".repeat(99));
        let mut pending = line.repeat(2000);
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
        let mut pending = format!("{long}short\n");
        assert_eq!(take_batch(&mut pending), long);
        assert_eq!(pending, "short\n");
    }

    #[test]
    fn holds_output_until_the_editor_shows_its_line_and_after_it_accepts_one() {
        let screen = Screen::default();
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
        let screen = Arc::new(Screen::default());
        let logs = LogsAbove::start(&screen);
        LogOutput
            .write_all(b"udpchat: warning: shown above the prompt\n")
            .unwrap();
        assert_eq!(
            screen.lock().pending,
            "udpchat: warning: shown above the prompt\n"
        );
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
