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

/// Where a delivery notice went ([`show_notice`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Above the input line, where the log lines go too: nothing more to do.
    WithTheLogs,
    /// Above the input line; the log lines go to stderr, not that terminal.
    AboveOnly,
    /// Nowhere: no line editor runs.
    NotShown,
}

/// The screen of the running line editor, if any.
struct Above {
    screen: Arc<Screen>,
    /// stderr is the terminal: every log line goes above the input line,
    /// not only the delivery notices.
    every_log: bool,
}

static LOG_SCREEN: Mutex<Option<Above>> = Mutex::new(None);

fn log_screen() -> MutexGuard<'static, Option<Above>> {
    LOG_SCREEN.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Write for LogOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let screen = log_screen()
            .as_ref()
            .filter(|above| above.every_log)
            .map(|above| above.screen.clone());
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

/// Shows a delivery notice (`line`, a whole log line) above the input line
/// while a line editor runs, whatever stderr is: a person typing learns what
/// became of their lines without reading a log.
pub fn show_notice(line: &[u8]) -> Notice {
    let above = log_screen()
        .as_ref()
        .map(|above| (above.screen.clone(), above.every_log));
    match above {
        Some((screen, every_log)) => {
            screen.push_log(line);
            if every_log {
                Notice::WithTheLogs
            } else {
                Notice::AboveOnly
            }
        }
        None => Notice::NotShown,
    }
}

/// Sends log lines (every one when `every_log`, else the delivery notices
/// only) to `screen` until dropped.
pub(super) struct LogsAbove;

impl LogsAbove {
    pub(super) fn start(screen: &Arc<Screen>, every_log: bool) -> LogsAbove {
        *log_screen() = Some(Above {
            screen: screen.clone(),
            every_log,
        });
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
    fn log_lines_and_delivery_notices_go_above_the_input_line_while_the_editor_runs() {
        let screen = Arc::new(test_screen());
        let logs = LogsAbove::start(&screen, true);
        LogOutput
            .write_all(b"udpchat: warning: shown above the prompt\n")
            .unwrap();
        assert_eq!(show_notice(b"a notice\n"), Notice::WithTheLogs);
        assert_eq!(
            screen.lock().logs,
            "udpchat: warning: shown above the prompt\na notice\n"
        );
        drop(logs);
        assert!(log_screen().is_none());
        assert_eq!(show_notice(b"a notice\n"), Notice::NotShown);

        // With stderr elsewhere, only the delivery notices (one test: the
        // screen they go to is the process's).
        let screen = Arc::new(test_screen());
        let logs = LogsAbove::start(&screen, false);
        assert_eq!(show_notice(b"a notice\n"), Notice::AboveOnly);
        assert_eq!(screen.lock().logs, "a notice\n");
        drop(logs);
    }
}
