//! The line editor's glue: hooks that tell the screen where the editor is, and the editor read as the sender's input.

use std::io::{self, BufRead, Read};
use std::sync::Arc;

use rustyline::Editor;
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use udpchat::ShutdownHandle;

use super::screen::{Phase, Screen};
use super::suspend;

/// The editor's helper, used only for two hooks that tell the [`Screen`]
/// where the editor is (see the [`terminal`](super) module's documentation).
pub(super) struct Hooks(pub(super) Arc<Screen>);

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
pub(super) struct EditorInput {
    pub(super) editor: Editor<Hooks, DefaultHistory>,
    pub(super) prompt: String,
    pub(super) line: Vec<u8>,
    pub(super) read: usize,
    pub(super) ended: bool,
    pub(super) screen: Arc<Screen>,
    pub(super) interrupt: ShutdownHandle,
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
