//! Typing at a terminal no line editor can drive (`TERM=dumb`): udpchat echoes the keys itself, so a received line starts a row of its own.
//!
//! In the terminal's normal (canonical) mode the kernel echoes what is typed
//! and keeps the half-typed line to itself: a program cannot tell whether
//! the cursor stands after some typed text, so a line it prints lands in the
//! middle of it. Here udpchat takes the keys one by one (no canonical mode,
//! no echo; Ctrl-C and Ctrl-Z still signal), keeps the line, and echoes it
//! after a prompt as the kernel would, erase keys included. A received line
//! is then printed on the prompt's row, cleared first, and the prompt and
//! the half-typed text drawn again below it.
//!
//! Only what every terminal does is used, since `dumb` promises nothing
//! more: carriage return, newline, spaces, and the backspace with which the
//! kernel itself erases a typed character. The row is cleared by writing
//! spaces over it from column 0; when the line may take more than one row
//! (or the width is unknown), spaces cannot reach the rows above, so a
//! newline ends the row instead and the half-typed text stays above too.
//!
//! Ctrl-Z: the kernel sends SIGTSTP, which every thread blocks; a thread of
//! ours waits for it, puts the terminal's mode back, stops the process, and
//! when the shell's `fg` continues it takes the keys again and draws the
//! line. The shell hands the terminal back in its normal mode, so without
//! that the keys would be echoed twice.

use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;

use log::debug;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::termios::{
    InputFlags, LocalFlags, SetArg, SpecialCharacterIndices as Key, Termios, tcgetattr, tcsetattr,
};
use unicode_width::UnicodeWidthChar;

use udpchat::{Chat, Error, Summary};

use super::rows;

/// Columns between tab stops, as terminals set them by default.
const TAB: usize = 8;

/// The typed line, the keys that edit it and the terminal's modes, shared
/// by the sender's input, the receiver's output, log lines and Ctrl-Z.
pub(in crate::terminal) struct Line {
    shared: Mutex<Shared>,
}

struct Shared {
    edit: Edit,
    /// udpchat takes the keys and echoes them: from [`take_over`] to the end
    /// of the input or of the chat.
    echoing: bool,
    /// The terminal's mode as found: canonical, echoing.
    found: Termios,
    /// Keys one by one, unechoed.
    ours: Termios,
}

/// What Enter has completed so far: whole lines, each ending in `\n`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Fed {
    lines: Vec<u8>,
    /// Ctrl-D on an empty line: the input is over.
    end: bool,
}

/// The terminal's editing keys, as `stty` sets them.
#[derive(Clone, Copy, Debug)]
struct Keys {
    erase: Option<u8>,
    kill: Option<u8>,
    word_erase: Option<u8>,
    reprint: Option<u8>,
    literal_next: Option<u8>,
    eof: Option<u8>,
    /// A carriage return is Enter, as the kernel's ICRNL makes it. Keys
    /// typed ahead while the shell's editor had ICRNL off reach us as `\r`,
    /// and must still end their line.
    cr_is_enter: bool,
}

impl Keys {
    fn of(termios: &Termios) -> Keys {
        let key = |index: Key| match termios.control_chars[index as usize] {
            // _POSIX_VDISABLE: 0 on Linux, 0xff on the BSDs and macOS.
            0 | 0xff => None,
            key => Some(key),
        };
        Keys {
            erase: key(Key::VERASE),
            kill: key(Key::VKILL),
            word_erase: key(Key::VWERASE),
            reprint: key(Key::VREPRINT),
            literal_next: key(Key::VLNEXT),
            eof: key(Key::VEOF),
            cr_is_enter: termios.input_flags.contains(InputFlags::ICRNL),
        }
    }

    /// Both DEL and Ctrl-H erase, whichever of the two `stty erase` names:
    /// terminals differ in which one their Backspace key sends.
    fn erases(&self, byte: u8) -> bool {
        Some(byte) == self.erase || byte == 0x7f || byte == 0x08
    }
}

/// The line being typed and what the screen shows of it; no I/O, so that
/// each key's effect can be tested.
#[derive(Debug)]
struct Edit {
    prompt: String,
    keys: Keys,
    /// The bytes typed since the last Enter, as they will be sent.
    typed: Vec<u8>,
    /// The prompt and the typed text are drawn on the screen.
    shown: bool,
    /// They may take more than one row: drawn wider than the terminal, or
    /// at a width we could not learn.
    wrapped: bool,
    /// The next byte is typed as it is (after Ctrl-V).
    literal: bool,
}

impl Edit {
    fn new(prompt: String, keys: Keys) -> Edit {
        Edit {
            prompt,
            keys,
            typed: Vec::new(),
            shown: false,
            wrapped: false,
            literal: false,
        }
    }

    /// Takes typed bytes: edits the line, appends their echo to `out`,
    /// and returns the lines completed. Stops at the end of the input.
    fn feed(&mut self, bytes: &[u8], columns: Option<usize>, out: &mut Vec<u8>) -> Fed {
        let mut fed = Fed::default();
        for &byte in bytes {
            if std::mem::take(&mut self.literal) {
                self.push(byte, out);
            } else if byte == b'\n' || (byte == b'\r' && self.keys.cr_is_enter) {
                // Output processing (ONLCR) makes it a carriage return too.
                out.push(b'\n');
                fed.lines.append(&mut self.typed);
                fed.lines.push(b'\n');
                self.shown = false;
                self.draw(columns, out);
            } else if Some(byte) == self.keys.eof {
                // On a non-empty line the kernel would hand over the text
                // without a newline, which changes nothing until Enter.
                if self.typed.is_empty() {
                    self.clear(columns, out);
                    fed.end = true;
                    break;
                }
            } else if self.keys.erases(byte) {
                self.erase(columns, out, pop_char);
            } else if Some(byte) == self.keys.kill {
                self.erase(columns, out, Vec::clear);
            } else if Some(byte) == self.keys.word_erase {
                self.erase(columns, out, pop_word);
            } else if Some(byte) == self.keys.reprint {
                out.push(b'\n');
                self.shown = false;
                self.draw(columns, out);
            } else if Some(byte) == self.keys.literal_next {
                self.literal = true;
            } else {
                self.push(byte, out);
            }
        }
        if self.shown && columns.is_none_or(|columns| self.width(true) >= columns) {
            self.wrapped = true;
        }
        fed
    }

    fn push(&mut self, byte: u8, out: &mut Vec<u8>) {
        self.typed.push(byte);
        echo(&[byte], out);
    }

    /// Edits the line with `edit`, and rubs out what it took off the screen
    /// as the kernel's echo does (`\b \b` a column). Ambiguous characters
    /// count as narrow here, as most terminals draw them, so as not to rub
    /// out more than was typed. A line that took more than one row keeps
    /// its rows above, even once short again: backspace stays on its row.
    fn erase(&mut self, columns: Option<usize>, out: &mut Vec<u8>, edit: impl FnOnce(&mut Vec<u8>)) {
        if columns.is_none_or(|columns| self.width(true) >= columns) {
            self.wrapped = true;
        }
        let before = self.width(false);
        edit(&mut self.typed);
        for _ in self.width(false)..before {
            out.extend_from_slice(b"\x08 \x08");
        }
    }

    /// Takes the prompt and the typed text off the screen, leaving the
    /// cursor at column 0 of a row free for other text.
    fn clear(&mut self, columns: Option<usize>, out: &mut Vec<u8>) {
        if !std::mem::take(&mut self.shown) {
            return;
        }
        let width = self.width(true);
        match columns {
            Some(columns) if !self.wrapped && width < columns => {
                out.push(b'\r');
                out.resize(out.len() + width, b' ');
                out.push(b'\r');
            }
            // Spaces cannot reach the rows above: the text stays there.
            _ => out.push(b'\n'),
        }
        self.wrapped = false;
    }

    /// Draws the prompt and the typed text from the cursor, at column 0.
    fn draw(&mut self, columns: Option<usize>, out: &mut Vec<u8>) {
        out.extend_from_slice(self.prompt.as_bytes());
        echo(&self.typed, out);
        self.shown = true;
        self.wrapped = columns.is_none_or(|columns| self.width(true) >= columns);
    }

    /// The columns the prompt and the typed text take, from column 0;
    /// ambiguous characters as wide when `wide`.
    fn width(&self, wide: bool) -> usize {
        let mut shown = self.prompt.clone().into_bytes();
        echo(&self.typed, &mut shown);
        String::from_utf8_lossy(&shown).chars().fold(0, |column, c| {
            column
                + match c {
                    '\t' => TAB - column % TAB,
                    c if wide => c.width_cjk().unwrap_or(0),
                    c => c.width().unwrap_or(0),
                }
        })
    }
}

/// Appends how `typed` shows on the screen: as it is, but a control
/// character as `^X` (the kernel's `echoctl`), so no typed key moves the
/// cursor in ways the line cannot follow; a tab stays a tab.
fn echo(typed: &[u8], out: &mut Vec<u8>) {
    for &byte in typed {
        match byte {
            b'\t' => out.push(byte),
            0..=0x1f => out.extend_from_slice(&[b'^', byte + 0x40]),
            0x7f => out.extend_from_slice(b"^?"),
            _ => out.push(byte),
        }
    }
}

/// Takes the last character off `typed`: all the bytes of a UTF-8 one.
fn pop_char(typed: &mut Vec<u8>) {
    while let Some(byte) = typed.pop() {
        if byte & 0xc0 != 0x80 {
            break;
        }
    }
}

/// Takes the last word off `typed`, and the blanks after it, as the kernel's
/// word erase does.
fn pop_word(typed: &mut Vec<u8>) {
    let blank = |byte: &u8| *byte == b' ' || *byte == b'\t';
    while typed.last().is_some_and(blank) {
        typed.pop();
    }
    while typed.last().is_some_and(|byte| !blank(byte)) {
        pop_char(typed);
    }
}

/// The terminal's width, if it can tell.
fn columns() -> Option<usize> {
    let (width, _) = terminal_size::terminal_size_of(io::stdout())?;
    (width.0 > 0).then_some(usize::from(width.0))
}

fn write_out(bytes: &[u8]) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()
}

/// The line that log lines go to while udpchat echoes the keys.
static LOG_LINE: Mutex<Option<Arc<Line>>> = Mutex::new(None);

fn log_line_slot() -> MutexGuard<'static, Option<Arc<Line>>> {
    LOG_LINE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The line to show log lines above, while udpchat echoes the keys and
/// stderr is a terminal.
pub(in crate::terminal) fn log_line() -> Option<Arc<Line>> {
    log_line_slot().clone()
}

/// The keys, once udpchat has taken them: the sender's input.
pub(in crate::terminal) struct Typing {
    line: Arc<Line>,
    /// Lines completed and not yet taken by the sender.
    ready: Vec<u8>,
    read: usize,
    ended: bool,
}

/// Takes the keys from a terminal in its normal mode, if it is in it:
/// canonical and echoing. Not where the terminal echoes nothing (Emacs's
/// `M-x shell` runs programs so, with `TERM=dumb`, and shows the typed text
/// itself, above which it already puts what a program prints).
pub(in crate::terminal) fn take_over(prompt: String) -> Option<Typing> {
    let stdin = io::stdin();
    let found = match tcgetattr(stdin.as_fd()) {
        Ok(found) => found,
        Err(err) => {
            debug!("cannot read the terminal's mode ({err}); leaving the keys to it");
            return None;
        }
    };
    if !found.local_flags.contains(LocalFlags::ICANON | LocalFlags::ECHO) {
        debug!("the terminal does not echo lines as they are typed; leaving the keys to it");
        return None;
    }
    let mut ours = found.clone();
    // ISIG stays: Ctrl-C and Ctrl-Z still signal, as they did.
    ours.local_flags
        .remove(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ECHONL | LocalFlags::IEXTEN);
    // First whatever was typed before, without waiting: the kernel has echoed it.
    ours.control_chars[Key::VMIN as usize] = 0;
    ours.control_chars[Key::VTIME as usize] = 0;
    if let Err(err) = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &ours) {
        debug!("cannot take the keys from the terminal ({err}); leaving them to it");
        return None;
    }
    let mut ahead = Vec::new();
    let mut buf = [0; 4096];
    while let Ok(read @ 1..) = stdin.lock().read(&mut buf) {
        ahead.extend_from_slice(&buf[..read]);
    }
    as_typed_in(&found, &mut ahead);
    ours.control_chars[Key::VMIN as usize] = 1;
    if let Err(err) = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &ours) {
        let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &found);
        debug!("cannot take the keys from the terminal ({err}); leaving them to it");
        return None;
    }
    let keys = Keys::of(&found);
    let line = Arc::new(Line {
        shared: Mutex::new(Shared {
            edit: Edit::new(prompt, keys),
            echoing: true,
            found,
            ours,
        }),
    });
    let mut typing = Typing {
        line,
        ready: Vec::new(),
        read: 0,
        ended: false,
    };
    typing.start(&ahead);
    Some(typing)
}

/// Makes keys typed ahead read as the terminal's mode `found` reads them:
/// the kernel maps a carriage return to a newline (`icrnl`) as a key comes
/// in, under the mode of the moment, and keys that came while another
/// program had the terminal raw (the shell's line editor, in the instant
/// after Enter) were not mapped. Enter then stayed a carriage return.
fn as_typed_in(found: &Termios, ahead: &mut [u8]) {
    let flags = found.input_flags;
    if flags.contains(InputFlags::ICRNL) && !flags.contains(InputFlags::IGNCR) {
        for byte in ahead.iter_mut().filter(|byte| **byte == b'\r') {
            *byte = b'\n';
        }
    }
}

impl Typing {
    /// Draws the prompt and takes the keys typed ahead, which the kernel
    /// echoed as they came: its echo of an unfinished line is taken off the
    /// row first, and drawn again after the prompt. (Keys typed while the
    /// shell held the terminal were not echoed; they show once, after it.)
    fn start(&mut self, ahead: &[u8]) {
        let mut out = Vec::new();
        let columns = columns();
        let fed = {
            let mut shared = self.line.lock();
            let unfinished = ahead.rsplit(|&byte| byte == b'\n').next().unwrap_or_default();
            if !unfinished.is_empty() {
                // The kernel's echo of it, without a prompt.
                let mut echoed = Edit::new(String::new(), shared.edit.keys);
                echoed.typed = unfinished.to_vec();
                echoed.shown = true;
                echoed.wrapped = columns.is_none_or(|columns| echoed.width(true) >= columns);
                echoed.clear(columns, &mut out);
            }
            shared.edit.draw(columns, &mut out);
            let fed = shared.edit.feed(ahead, columns, &mut out);
            let _ = write_out(&out);
            if fed.end {
                shared.end_of_input();
            }
            fed
        };
        self.ready = fed.lines;
        self.ended = fed.end;
    }
}

impl io::BufRead for Typing {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let mut buf = [0; 4096];
        while self.read == self.ready.len() && !self.ended {
            self.ready.clear();
            self.read = 0;
            let read = match io::stdin().lock().read(&mut buf) {
                Ok(read) => read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    self.ended = true;
                    self.line.lock().end_of_input();
                    return Err(err);
                }
            };
            let fed = self.line.keys(&buf[..read]);
            self.ready = fed.lines;
            self.ended = fed.end;
        }
        Ok(&self.ready[self.read..])
    }

    fn consume(&mut self, amount: usize) {
        self.read += amount;
    }
}

impl Read for Typing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = io::BufRead::fill_buf(self)?;
        let amount = available.len().min(buf.len());
        buf[..amount].copy_from_slice(&available[..amount]);
        io::BufRead::consume(self, amount);
        Ok(amount)
    }
}

impl Shared {
    /// The input is over: the terminal gets its mode back, and lines
    /// received while the chat lingers are printed as they come.
    fn end_of_input(&mut self) {
        if std::mem::take(&mut self.echoing) {
            let mut out = Vec::new();
            self.edit.clear(columns(), &mut out);
            let _ = write_out(&out);
            let _ = tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, &self.found);
        }
    }
}

impl Line {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic elsewhere must not stop the output: the state stays consistent.
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes keys read from the terminal (none: it hung up).
    fn keys(&self, bytes: &[u8]) -> Fed {
        let mut shared = self.lock();
        if !shared.echoing {
            return Fed {
                lines: Vec::new(),
                end: true,
            };
        }
        if bytes.is_empty() {
            shared.end_of_input();
            return Fed {
                lines: Vec::new(),
                end: true,
            };
        }
        let mut out = Vec::new();
        let fed = shared.edit.feed(bytes, columns(), &mut out);
        // The terminal shows what it can; the receiver reports a failed terminal.
        let _ = write_out(&out);
        if fed.end {
            shared.end_of_input();
        }
        fed
    }

    /// Shows `text`, whole lines, on rows of their own above the prompt and
    /// the typed text: received lines on stdout, or log lines on stderr.
    pub(in crate::terminal) fn show(&self, text: &[u8], on_stderr: bool) -> io::Result<()> {
        let columns = columns();
        let mut shared = self.lock();
        let mut out = Vec::with_capacity(text.len() + 256);
        shared.edit.clear(columns, &mut out);
        if on_stderr {
            write_out(&out)?;
            out.clear();
            let mut stderr = io::stderr().lock();
            stderr.write_all(text)?;
            stderr.flush()?;
        } else {
            // Received lines are cut into rows, those after a line's first marked (see `rows`).
            match (std::str::from_utf8(text), columns) {
                (Ok(text), Some(columns)) => {
                    let mut cut = String::with_capacity(text.len() + text.len() / 8);
                    rows::cut(text, columns, &mut cut);
                    out.extend_from_slice(cut.as_bytes());
                }
                _ => out.extend_from_slice(text),
            }
        }
        if shared.echoing {
            shared.edit.draw(columns, &mut out);
        }
        write_out(&out)
    }

    /// Ctrl-Z (SIGTSTP, which this thread has taken): stops the process
    /// with the terminal in its mode as found, and takes the keys again
    /// and draws the line once the shell continues it.
    fn suspend(&self) {
        let mut shared = self.lock();
        let echoing = shared.echoing;
        let stdin = io::stdin();
        if echoing {
            let mut out = Vec::new();
            shared.edit.clear(columns(), &mut out);
            let _ = write_out(&out);
            let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &shared.found);
        }
        // Sent to this thread alone, the signal stops the process before
        // `raise` returns; as the terminal's own would, it stops nothing
        // in an orphaned process group (no shell there to continue it).
        let tstp = sigtstp();
        let _ = tstp.thread_unblock();
        let _ = nix::sys::signal::raise(Signal::SIGTSTP);
        let _ = tstp.thread_block();
        if echoing {
            let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &shared.ours);
            let mut out = Vec::new();
            shared.edit.draw(columns(), &mut out);
            let _ = write_out(&out);
        }
    }

    /// The chat is over: the terminal gets its mode back. A half-typed line,
    /// not sent, stays on the screen, and the shell's prompt starts below it.
    fn finish(&self) {
        let mut shared = self.lock();
        if std::mem::take(&mut shared.echoing) {
            let mut out = Vec::new();
            if shared.edit.typed.is_empty() {
                shared.edit.clear(columns(), &mut out);
            } else if std::mem::take(&mut shared.edit.shown) {
                out.push(b'\n');
            }
            let _ = write_out(&out);
            let _ = tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, &shared.found);
        }
    }
}

fn sigtstp() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTSTP);
    set
}

/// Received lines, through the line (see [`Line::show`]).
struct Shown(Arc<Line>);

impl Write for Shown {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.show(buf, false)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `chat` with udpchat echoing the keys (see the module's documentation).
/// SIGTSTP must be blocked in this thread and every other one.
pub(in crate::terminal) fn run(chat: Chat, typing: Typing) -> Result<Summary, Error> {
    let line = typing.line.clone();
    let suspender = thread::Builder::new().name("suspend".into()).spawn({
        let line = line.clone();
        move || {
            // Blocked everywhere, SIGTSTP stays pending until taken here.
            while sigtstp().wait().is_ok() {
                line.suspend();
            }
        }
    });
    if let Err(source) = suspender {
        line.finish();
        return Err(Error::Io {
            op: "start the thread that takes Ctrl-Z",
            source,
        });
    }
    let logs_above = io::stderr().is_terminal();
    if logs_above {
        *log_line_slot() = Some(line.clone());
    }
    let summary = chat.run(typing, Shown(line.clone()));
    if logs_above {
        *log_line_slot() = None;
    }
    line.finish();
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: Option<usize> = Some(40);

    fn keys() -> Keys {
        Keys {
            erase: Some(0x7f),
            kill: Some(0x15),
            word_erase: Some(0x17),
            reprint: Some(0x12),
            literal_next: Some(0x16),
            eof: Some(0x04),
            cr_is_enter: true,
        }
    }

    /// An edit with its prompt drawn, and what typing `bytes` then gives.
    fn typed(bytes: &[u8]) -> (Edit, Fed, String) {
        let mut edit = Edit::new("> ".to_owned(), keys());
        let mut out = Vec::new();
        edit.draw(COLUMNS, &mut out);
        out.clear();
        let fed = edit.feed(bytes, COLUMNS, &mut out);
        (edit, fed, String::from_utf8(out).unwrap())
    }

    #[test]
    fn a_carriage_return_typed_ahead_is_enter_as_icrnl_makes_it() {
        let (_, fed, out) = typed(b"ahead 1\rahead 2\rhalf");
        assert_eq!(fed.lines, b"ahead 1\nahead 2\n");
        assert_eq!(out, "ahead 1\n> ahead 2\n> half");
    }

    #[test]
    fn echoes_typed_text_and_sends_it_whole_at_enter() {
        let (edit, fed, out) = typed(b"hi there\nsecond\nhalf");
        assert_eq!(fed.lines, b"hi there\nsecond\n");
        assert_eq!(out, "hi there\n> second\n> half");
        assert_eq!(edit.typed, b"half");
    }

    #[test]
    fn erase_rubs_out_one_character_of_its_width() {
        let (edit, _, out) = typed("né漢\x7f\x7f".as_bytes());
        assert_eq!(edit.typed, b"n");
        assert_eq!(out, "né漢\x08 \x08\x08 \x08\x08 \x08");
    }

    #[test]
    fn ctrl_h_erases_as_del_does_whichever_stty_names() {
        let (edit, _, out) = typed(b"ab\x08");
        assert_eq!((edit.typed, out.as_str()), (b"a".to_vec(), "ab\x08 \x08"));
    }

    #[test]
    fn reprint_draws_the_line_again_on_a_row_of_its_own() {
        let (edit, fed, out) = typed(b"half\x12");
        assert_eq!((edit.typed, fed.lines), (b"half".to_vec(), vec![]));
        assert_eq!(out, "half\n> half");
    }

    #[test]
    fn an_arrow_key_shows_in_caret_form_and_is_typed_as_it_came() {
        let (_, fed, out) = typed(b"\x1b[A\n");
        assert_eq!((fed.lines, out.as_str()), (b"\x1b[A\n".to_vec(), "^[[A\n> "));
    }

    #[test]
    fn erasing_a_control_character_rubs_out_its_caret_form() {
        let (edit, _, out) = typed(b"a\x01\x7f");
        assert_eq!(edit.typed, b"a");
        assert_eq!(out, "a^A\x08 \x08\x08 \x08");
    }

    #[test]
    fn word_erase_and_kill_take_off_what_the_terminal_would() {
        let (edit, _, _) = typed(b"hello big  world \x17");
        assert_eq!(edit.typed, b"hello big  ");
        let (edit, fed, _) = typed(b"gone\x15kept\n");
        assert_eq!((edit.typed, fed.lines), (vec![], b"kept\n".to_vec()));
    }

    #[test]
    fn literal_next_types_an_editing_key_as_it_is() {
        let (_, fed, out) = typed(b"a\x16\x7fb\n");
        assert_eq!(fed.lines, b"a\x7fb\n");
        assert!(out.starts_with("a^?b"), "{out:?}");
    }

    #[test]
    fn enter_typed_ahead_while_the_shell_had_the_terminal_raw_is_a_newline() {
        // SAFETY: a termios of all zeros is a valid value (no flag set).
        let mut found = Termios::from(unsafe { std::mem::zeroed::<nix::libc::termios>() });
        let mut ahead = b"ahead 1\rahead 2\rhalf".to_vec();
        as_typed_in(&found, &mut ahead);
        assert_eq!(ahead, b"ahead 1\rahead 2\rhalf", "without icrnl");
        found.input_flags.insert(InputFlags::ICRNL);
        as_typed_in(&found, &mut ahead);
        assert_eq!(ahead, b"ahead 1\nahead 2\nhalf");
    }

    #[test]
    fn ctrl_d_ends_the_input_on_an_empty_line_only() {
        let (_, fed, _) = typed(b"x\x04\n");
        assert_eq!(
            fed,
            Fed {
                lines: b"x\n".to_vec(),
                end: false
            }
        );
        let (edit, fed, out) = typed(b"\x04ignored");
        assert_eq!(
            fed,
            Fed {
                lines: vec![],
                end: true
            }
        );
        assert_eq!((out.as_str(), edit.shown), ("\r  \r", false));
    }

    #[test]
    fn a_line_of_one_row_is_cleared_with_spaces_a_longer_one_left_above() {
        let (mut edit, _, _) = typed(b"typed\ttab");
        let mut out = Vec::new();
        edit.clear(COLUMNS, &mut out);
        // "> typed" is 7 columns, the tab runs to 8, then 3 more.
        assert_eq!(out, format!("\r{}\r", " ".repeat(11)).as_bytes());

        let (mut edit, _, _) = typed(&[b'w'; 38]);
        assert!(edit.wrapped, "40 columns with the prompt");
        out.clear();
        edit.clear(COLUMNS, &mut out);
        assert_eq!(out, b"\n");

        let (mut edit, _, _) = typed(b"short");
        out.clear();
        edit.clear(None, &mut out);
        assert_eq!(out, b"\n", "an unknown width");
    }

    #[test]
    fn a_line_once_wider_than_the_terminal_is_not_cleared_with_spaces() {
        let mut long = vec![b'w'; 40];
        long.extend([0x15]);
        long.extend(b"short");
        let (mut edit, _, _) = typed(&long);
        assert!(edit.wrapped);
        let mut out = Vec::new();
        edit.clear(COLUMNS, &mut out);
        assert_eq!(out, b"\n");
    }
}
