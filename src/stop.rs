//! The stop channel: why a chat stops, sent by whoever noticed, and the word that it is stopping.
//!
//! It is all the two directions share besides the socket. Reasons flow one
//! way, over a channel, to the thread that runs the chat; its answer,
//! "stopping", is a flag every thread can read. Nothing polls: a thread asks
//! only after a blocking call has returned, before it acts on what it got.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::Error;

/// Why the chat stops.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The input ended and every line was handled.
    EndOfInput,
    /// [`ShutdownHandle::interrupt`](crate::ShutdownHandle::interrupt), e.g. on Ctrl-C.
    Interrupted,
    /// The output's reader went away (`EPIPE`).
    OutputClosed,
    /// Confirmed delivery gave up on every peer, for good.
    GaveUp,
    /// Something failed.
    Failed(Error),
}

/// Room in the channel of reasons. The chat acts on the first reason (the
/// second after the end of input with a linger), so a few are plenty; the
/// bound keeps a caller who interrupts in a loop from growing memory.
pub(crate) const QUEUE: usize = 4;

/// A thread's end of the stop channel: it tells why to stop, and learns
/// whether the chat is stopping. Cloned into each thread.
#[derive(Clone, Debug)]
pub(crate) struct StopLine {
    reasons: Sender<Stop>,
    /// Set once by the [`Coordinator`]. A flag rather than a second channel:
    /// the sender asks once per line and the receiver once per datagram, and
    /// a load costs one instruction where a channel's `try_recv` costs fifty.
    stopping: Arc<AtomicBool>,
}

impl StopLine {
    /// Tells the chat why to stop, without ever blocking. When the channel is
    /// full, reasons enough are already waiting and this one is not needed;
    /// when it is disconnected, the chat has ended.
    pub fn request(&self, reason: Stop) {
        let _ = self.reasons.try_send(reason);
    }

    /// True once the chat has decided to stop: whatever a thread was about
    /// to do (print, send) is no longer wanted.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Runs a thread's `body`. If it panics, the chat stops with
    /// [`Error::Panicked`] and this returns `None`: a bug in one thread must
    /// not leave the chat waiting for a reason to stop that will never come.
    /// (The panic hook has printed the message and where it was already.)
    pub fn unless_panicking<T>(&self, thread: &'static str, body: impl FnOnce() -> T) -> Option<T> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
            Ok(value) => Some(value),
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|text| (*text).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                self.request(Stop::Failed(Error::Panicked { thread, message }));
                None
            }
        }
    }
}

/// The chat's end of the stop channel.
pub(crate) struct Coordinator {
    reasons: Receiver<Stop>,
    line: StopLine,
}

impl Coordinator {
    pub fn new() -> Coordinator {
        let (reasons_tx, reasons) = crossbeam_channel::bounded(QUEUE);
        Coordinator {
            reasons,
            line: StopLine {
                reasons: reasons_tx,
                stopping: Arc::new(AtomicBool::new(false)),
            },
        }
    }

    /// A line for a thread, or for a shutdown handle.
    pub fn line(&self) -> StopLine {
        self.line.clone()
    }

    /// Reasons waiting, for tests.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.reasons.len()
    }

    /// Waits for the first reason to stop. After the end of input it goes on
    /// receiving for `linger`, unless something else stops the chat sooner.
    pub fn wait(&self, linger: std::time::Duration) -> Stop {
        // We hold a sender ourselves (in `line`), so this cannot disconnect.
        let Ok(first) = self.reasons.recv() else {
            return Stop::Interrupted;
        };
        match first {
            Stop::EndOfInput if !linger.is_zero() => match self.reasons.recv_timeout(linger) {
                Ok(other) => other,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => Stop::EndOfInput,
            },
            first => first,
        }
    }

    /// Tells every thread that the chat is stopping.
    pub fn stop_all(&self) {
        self.line.stopping.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_learn_that_the_chat_stops_when_it_decides_to() {
        let coordinator = Coordinator::new();
        let line = coordinator.line();
        assert!(!line.is_stopping());
        line.request(Stop::EndOfInput);
        assert!(matches!(
            coordinator.wait(std::time::Duration::ZERO),
            Stop::EndOfInput
        ));
        assert!(!line.is_stopping());
        coordinator.stop_all();
        assert!(line.is_stopping() && line.clone().is_stopping());
    }

    #[test]
    fn a_panic_is_reported_with_its_message() {
        let coordinator = Coordinator::new();
        let line = coordinator.line();
        let ran = std::thread::spawn(move || {
            line.unless_panicking("sender", || panic!("a bug (this panic is expected)"))
        })
        .join();
        assert!(matches!(ran, Ok(None::<()>)));
        let Stop::Failed(err) = coordinator.wait(std::time::Duration::ZERO) else {
            panic!("no failure reported");
        };
        assert_eq!(
            err.to_string(),
            "the sender thread panicked: a bug (this panic is expected)"
        );
    }
}
