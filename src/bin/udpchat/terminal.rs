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
//! prompt (our `Hinter` runs then). A batch taken just before Enter and
//! handed over just after it finds the editor out of raw mode, with an
//! earlier one possibly still queued: the patched rustyline's printer
//! (crates/rustyline-udpchat) then queues it behind that one rather than
//! writing it, and the order of lines is kept.
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
//! Two limits remain: a batch handed to the editor in the very instant the
//! user presses Ctrl-D or Ctrl-C (no hook runs then) is dropped with the
//! editor, unshown; the chat is ending, and the datagrams were received and
//! counted. And keys typed in the instant between two lines, before the
//! editor takes the terminal back, are echoed by the terminal itself: a
//! received line printed then may join them on their row (the editor then
//! draws them again after its prompt).
//!
//! Each part has a file: `screen` holds the output and runs the printer
//! thread, `editor` the hooks and the editor as the sender's input, `logs`
//! routes log lines, `mode` saves and restores the terminal's mode,
//! `suspend` makes Ctrl-Z work, `rows` cuts lines to the terminal's width
//! (each character measured by `width` at the most any terminal draws it),
//! and `dumb` takes the keys where no line editor runs.

use std::io::{self, BufReader, IsTerminal};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;

use log::info;
use rustyline::Editor;

use udpchat::{Chat, Ended, Error, Summary, display};

#[cfg(all(unix, not(any(target_os = "aix", target_os = "haiku"))))]
mod dumb;
mod editor;
mod logs;
#[cfg(unix)]
mod mode;
mod rows;
mod screen;
#[cfg(unix)]
mod suspend;
mod width;

pub use logs::{LogOutput, Notice, show_notice};

use editor::{EditorInput, Hooks};
use logs::LogsAbove;
use screen::{NotShown, Screen, ScreenWriter};

/// Received lines handed to the line editor's screen and not shown.
static NOT_SHOWN: NotShown = NotShown::new();

/// How many received lines the terminal has not shown: waiting for it now,
/// or dropped (no room for them, Ctrl-C); 0 when no line editor runs.
/// Takes no lock, so it answers at once even while the printer is blocked
/// on the terminal: for a process about to exit at once, to say what it
/// leaves unshown.
pub fn lines_not_shown() -> u64 {
    NOT_SHOWN.waiting.load(Ordering::Relaxed) + NOT_SHOWN.dropped.load(Ordering::Relaxed)
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
    let screen = Arc::new(Screen::new(&NOT_SHOWN));
    let config = rustyline::Config::builder().auto_add_history(true).build();
    let started = Editor::with_config(config).and_then(|mut editor| {
        editor.set_helper(Some(Hooks(screen.clone())));
        let printer = editor.create_external_printer()?;
        Ok((editor, printer))
    });
    let prompt = format!("to {}> ", display::Style::sanitize_text(peer.as_bytes()));
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
    let logs = LogsAbove::start(&screen, io::stderr().is_terminal());
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
    screen.not_shown.waiting.store(0, Ordering::Relaxed);
    screen.warn_unshown();
    summary
}

/// Puts the terminal back in the mode it had when [`run`] started, if the
/// line editor left it raw. For a process about to exit at once (a second
/// Ctrl-C); every other way out of [`run`], a panic included, does it itself.
pub fn restore() {
    mode::restore();
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
