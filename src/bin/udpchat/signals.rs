//! Ctrl-C, SIGTERM and SIGHUP: the first stops the chat cleanly, a burst counts as one, a later one quits at once.

use std::io::{self, Write};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use udpchat::{Error, Progress, ShutdownHandle};

/// Signals closer together than this are one. `timeout 5 udpchat ...` (and
/// a terminal's Ctrl-C with udpchat in a pipeline) delivers the same signal
/// twice at once, to the process and to its group; a person pressing Ctrl-C
/// again because the first did not seem to act waits longer than this.
pub const BURST: Duration = Duration::from_millis(500);

/// The chat the handler stops, once it is bound (see [`attach`]).
static CHAT: OnceLock<(ShutdownHandle, Progress)> = OnceLock::new();

/// Installs the handler (`ctrlc`, with SIGTERM and SIGHUP), before anything
/// else can take time (resolving, binding, deriving a key), so that no
/// signal finds the default action, or one a shell set to ignore it, and a
/// program that sees "bound" knows the handler is there. Until [`attach`],
/// a signal quits at once: there is nothing to flush or count yet. After
/// it, the first signal stops the chat, which prints the summary as it
/// ends; one within [`BURST`] of it is part of the same burst and ignored;
/// one after that quits at once, saying what the chat did so far if stderr
/// takes it without blocking, and withdrawing the chat's name from the LAN
/// first (at most half a second).
pub fn install() -> Result<(), Error> {
    let mut first = Decider::default();
    ctrlc::set_handler(move || {
        let Some((handle, progress)) = CHAT.get() else {
            crate::terminal::restore();
            std::process::exit(crate::exit::INTERRUPTED.into());
        };
        match first.on_signal(Instant::now()) {
            Action::Stop => handle.interrupt(),
            Action::Ignore => {}
            Action::QuitAtOnce => {
                // Goodbye packets for the name, if any: a bounded wait.
                handle.withdraw_name();
                quit_at_once(progress)
            }
        }
    })
    .map_err(|err| Error::Io {
        op: "handle Ctrl-C",
        source: io::Error::other(err),
    })
}

/// Hands the bound chat to the handler [`install`] set up.
pub fn attach(handle: ShutdownHandle, progress: Progress) {
    let _ = CHAT.set((handle, progress));
}

/// What a signal should do.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    Stop,
    Ignore,
    QuitAtOnce,
}

/// Remembers when the first signal came.
#[derive(Default)]
struct Decider {
    first: Option<Instant>,
}

impl Decider {
    fn on_signal(&mut self, now: Instant) -> Action {
        match self.first {
            None => {
                self.first = Some(now);
                Action::Stop
            }
            Some(first) if now.duration_since(first) < BURST => Action::Ignore,
            Some(_) => Action::QuitAtOnce,
        }
    }
}

/// Quits now with status 130: the terminal restored, and the counts so far
/// on stderr (the kernel's drops read afresh, as the chat's end reads them,
/// and the received lines never shown), unless writing them would block (a
/// stopped terminal, a full pipe): something is stuck, and the user asked
/// to quit regardless.
fn quit_at_once(progress: &Progress) -> ! {
    crate::terminal::restore();
    let summary = progress.summary();
    // Waiting in the receiver for the output to take them, or for the
    // terminal, or dropped for want of room there: none will be shown now.
    let not_shown = progress
        .datagrams_received()
        .saturating_sub(progress.datagrams_written())
        + crate::terminal::lines_not_shown();
    let mut message = format!("udpchat: quitting at once: {summary}");
    if not_shown > 0 {
        message.push_str(&format!(
            "; {} never shown",
            crate::words::count(not_shown, "received line")
        ));
    }
    message.push('\n');
    write_unless_blocked(message.as_bytes());
    std::process::exit(crate::exit::INTERRUPTED.into());
}

/// Writes `bytes` (shorter than `PIPE_BUF`, so a pipe takes them whole) to
/// stderr only if it is ready for them now.
fn write_unless_blocked(bytes: &[u8]) {
    static WRITTEN: OnceLock<()> = OnceLock::new();
    if WRITTEN.set(()).is_err() {
        return;
    }
    #[cfg(unix)]
    {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        let stderr = io::stderr();
        let mut fds = [PollFd::new(stderr.as_fd(), PollFlags::POLLOUT)];
        let ready = poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
            && fds[0]
                .revents()
                .is_some_and(|events| events.contains(PollFlags::POLLOUT));
        if !ready {
            return;
        }
    }
    let _ = io::stderr().lock().write_all(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_that_arrive_together_count_as_one_and_a_later_one_quits_at_once() {
        let start = Instant::now();
        let mut decider = Decider::default();
        assert_eq!(decider.on_signal(start), Action::Stop);
        // `timeout`'s pair, and a third 0.1 ms later.
        assert_eq!(decider.on_signal(start), Action::Ignore);
        assert_eq!(
            decider.on_signal(start + Duration::from_micros(100)),
            Action::Ignore
        );
        assert_eq!(
            decider.on_signal(start + BURST - Duration::from_millis(1)),
            Action::Ignore
        );
        assert_eq!(decider.on_signal(start + BURST), Action::QuitAtOnce);
    }
}
