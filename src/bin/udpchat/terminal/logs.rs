//! Log lines while a line editor runs: shown above the input line like received lines, not through it.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::dumb;
use super::screen::Screen;

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
pub(super) struct LogsAbove;

impl LogsAbove {
    pub(super) fn start(screen: &Arc<Screen>) -> LogsAbove {
        *log_screen() = Some(screen.clone());
        LogsAbove
    }
}

impl Drop for LogsAbove {
    fn drop(&mut self) {
        *log_screen() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terminal::screen::test_screen;

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
}
