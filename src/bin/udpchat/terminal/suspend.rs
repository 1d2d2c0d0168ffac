//! Ctrl-Z in the line editor, in a process with several threads.
//!
//! In raw mode the terminal sends no signals: rustyline reads Ctrl-Z as a key
//! and suspends the process itself. It puts the terminal back in its normal
//! mode, sends SIGTSTP to its process group with `kill`, and when `kill`
//! returns, takes raw mode again and redraws the line, taking for granted that
//! the process stopped and was continued (`fg`) in between. With one thread
//! that holds. With several, the kernel may hand the signal to another thread
//! and `kill` return at once: the editor then takes raw mode back *before* the
//! process stops, the shell's `fg` hands the terminal back in its normal mode,
//! and the line is not redrawn; keys echo twice until Enter.
//!
//! POSIX promises the order only when the signal is blocked in every other
//! thread: it is then delivered to the thread calling `kill` before `kill`
//! returns. So in an interactive chat every thread blocks SIGTSTP except the
//! one in `readline`, and the printer thread once the editor is done, so that
//! the terminal's own Ctrl-Z still stops the process then. Without a line
//! editor nothing is blocked: the terminal stops the process, whichever
//! thread gets the signal.
//! See: <https://pubs.opengroup.org/onlinepubs/9799919799/functions/kill.html>

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
