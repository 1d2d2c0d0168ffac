//! The terminal's mode, saved before the line editor starts and put back however the chat ends.
//!
//! rustyline puts the terminal in raw mode inside each `readline` and back
//! when it returns. But the sender thread is not waited for: when the chat
//! ends some other way (SIGTERM, an error, a panic) it may be inside
//! `readline`, and the process would exit with the terminal raw, not echoing,
//! with bracketed paste on. rustyline offers no hook for that, so we save the
//! mode before the first `readline` and put it back when [`run`](super::run) returns,
//! from a panic hook, and from `main` before a second Ctrl-C exits at once.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, OnceLock, TryLockError};

use log::debug;
use nix::sys::termios::{LocalFlags, SetArg, Termios, tcgetattr, tcsetattr};

/// Turns bracketed paste off again, as rustyline does when it leaves raw mode.
const BRACKETED_PASTE_OFF: &[u8] = b"\x1b[?2004l";

/// The terminal's mode as found, and where to put it back.
struct SavedMode {
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

fn remember(saved: SavedMode) {
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
    fn capture(input: impl AsFd, output: impl AsFd) -> std::io::Result<SavedMode> {
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
    fn restore(&self) {
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

#[cfg(test)]
mod tests {
    use std::thread;

    use super::*;

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
        remember(SavedMode::capture(&pty.slave, &pty.slave).unwrap());
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
