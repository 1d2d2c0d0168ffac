//! Live counts of a running chat: each written by the one thread that owns it, read by anyone at any time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::receive::drops::{self, KernelCount};
use crate::summary::{Ended, Summary};

/// How far a running chat has got, readable from any thread while it runs,
/// e.g. for a progress bar or from a signal handler that must quit at once.
///
/// Get one with [`Chat::progress`](crate::Chat::progress) before
/// [`Chat::run`](crate::Chat::run). Each count is written by the one thread
/// that owns it (the sender's per line, the receiver's per batch of
/// datagrams) with a relaxed store, so keeping them costs the chat no
/// locked instruction; a reader sees each count as it was a moment ago, and
/// two counts are not read at one instant.
///
/// ```
/// use std::io::{self, Cursor};
/// use udpchat::{Chat, Config};
///
/// # fn main() -> Result<(), udpchat::Error> {
/// let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
/// let loopback = "127.0.0.1:0".parse().unwrap();
/// let chat = Chat::bind(Config::peers(vec![peer.local_addr().unwrap()], loopback))?;
/// let progress = chat.progress();
/// chat.run(Cursor::new("hello\nbye\n"), io::sink())?;
/// assert_eq!((progress.lines_sent(), progress.bytes_sent()), (2, 8));
/// assert_eq!(progress.bytes_read(), 10); // with the newlines
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Progress {
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    /// Whether the kernel counts drops for this chat's socket; fixed at bind.
    drops_counted: bool,
    /// Where the kernel's count of them can be read at any time, if it can.
    kernel_drops: Option<KernelCount>,
    // The sender's.
    lines_sent: AtomicU64,
    lines_not_sent: AtomicU64,
    lines_skipped: AtomicU64,
    bytes_read: AtomicU64,
    bytes_sent: AtomicU64,
    // The receiver's.
    datagrams_received: AtomicU64,
    datagrams_written: AtomicU64,
    datagrams_ignored: AtomicU64,
    datagrams_dropped: AtomicU64,
    datagrams_refused: AtomicU64,
    // Confirmed delivery's, written by three threads.
    lines_delivered: AtomicU64,
    lines_resent: AtomicU64,
    lines_not_delivered: AtomicU64,
    lines_pending: AtomicU64,
    waiting_for_peer: AtomicBool,
    waiting_hook: WaitingHook,
}

/// Called each time the sender starts to wait for its peers.
#[derive(Default)]
struct WaitingHook(OnceLock<Box<dyn Fn() + Send + Sync>>);

impl std::fmt::Debug for WaitingHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "WaitingHook(set)"
        } else {
            "WaitingHook"
        })
    }
}

/// What became of a line of input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Sent, with this many bytes (to each peer).
    Bytes(usize),
    /// Could not be sent.
    Failed,
    /// Empty, and not sent on purpose ([`Config::skip_empty`](crate::Config::skip_empty)).
    Skipped,
}

/// Adds to a count that only the calling thread writes: a load and a store,
/// no read-modify-write, since no other thread can race the update.
fn add(count: &AtomicU64, n: u64) {
    count.store(count.load(Ordering::Relaxed) + n, Ordering::Relaxed);
}

impl Progress {
    /// Input lines sent so far, to every peer (or the room).
    pub fn lines_sent(&self) -> u64 {
        self.counts.lines_sent.load(Ordering::Relaxed)
    }

    /// Input lines that could not be sent so far.
    pub fn lines_not_sent(&self) -> u64 {
        self.counts.lines_not_sent.load(Ordering::Relaxed)
    }

    /// Empty input lines not sent so far ([`Config::skip_empty`](crate::Config::skip_empty)).
    pub fn lines_skipped(&self) -> u64 {
        self.counts.lines_skipped.load(Ordering::Relaxed)
    }

    /// Bytes of input read so far, line ends included: compare it with the
    /// size of a file being sent.
    pub fn bytes_read(&self) -> u64 {
        self.counts.bytes_read.load(Ordering::Relaxed)
    }

    /// Bytes of the lines sent so far, without their line ends (what went
    /// into the datagrams to one peer).
    pub fn bytes_sent(&self) -> u64 {
        self.counts.bytes_sent.load(Ordering::Relaxed)
    }

    /// Datagrams received and shown so far (appended to the output).
    pub fn datagrams_received(&self) -> u64 {
        self.counts.datagrams_received.load(Ordering::Relaxed)
    }

    /// Of [`datagrams_received`](Self::datagrams_received), those whose
    /// lines the output has taken (its `write` returned): the rest are
    /// waiting in the receiver.
    pub fn datagrams_written(&self) -> u64 {
        self.counts.datagrams_written.load(Ordering::Relaxed)
    }

    /// Datagrams from hosts not heard so far.
    pub fn datagrams_ignored(&self) -> u64 {
        self.counts.datagrams_ignored.load(Ordering::Relaxed)
    }

    /// Datagrams the kernel reported dropped so far (Linux; see
    /// [`Summary::datagrams_dropped`]). Drops after the last datagram
    /// received are only counted at the end.
    pub fn datagrams_dropped(&self) -> u64 {
        self.counts.datagrams_dropped.load(Ordering::Relaxed)
    }

    /// Datagrams sent that came back refused so far (see [`Summary::datagrams_refused`]).
    pub fn datagrams_refused(&self) -> u64 {
        self.counts.datagrams_refused.load(Ordering::Relaxed)
    }

    /// Lines a peer acknowledged so far ([`Config::reliable`](crate::Config::reliable)),
    /// added over the peers.
    pub fn lines_delivered(&self) -> u64 {
        self.counts.lines_delivered.load(Ordering::Relaxed)
    }

    /// Times a line was sent again so far, added over the peers.
    pub fn lines_resent(&self) -> u64 {
        self.counts.lines_resent.load(Ordering::Relaxed)
    }

    /// Lines given up as not delivered so far, added over the peers.
    pub fn lines_not_delivered(&self) -> u64 {
        self.counts.lines_not_delivered.load(Ordering::Relaxed)
    }

    /// Lines sent and not yet acknowledged, added over the peers.
    pub fn lines_pending(&self) -> u64 {
        self.counts.lines_pending.load(Ordering::Relaxed)
    }

    /// Whether the sender is waiting for its peers' acknowledgements now:
    /// for room to send more, or for the last ones at the end of input.
    pub fn waiting_for_peer(&self) -> bool {
        self.counts.waiting_for_peer.load(Ordering::Relaxed)
    }

    /// Calls `hook` each time the sender starts to wait for its peers'
    /// acknowledgements ([`waiting_for_peer`](Self::waiting_for_peer) turns
    /// true), from the thread that waits: e.g. to redraw a progress line
    /// while no input is read, without a timer running the rest of the time.
    /// It must not block. Only the first hook set is kept.
    pub fn on_waiting(&self, hook: impl Fn() + Send + Sync + 'static) {
        let _ = self.counts.waiting_hook.0.set(Box::new(hook));
    }

    /// The counts as a [`Summary`] of a chat interrupted now, e.g. to say
    /// what a chat did when it must quit before it has ended. Drops are
    /// `Some` only where the system counts them, and are read from the
    /// kernel afresh (Linux: `/proc/net/udp`), as the chat's end reads them:
    /// a receiver blocked on its output takes no datagram, and the drops
    /// meanwhile are attached to none. A secured chat's counts (`secured`)
    /// are known only when it ends.
    pub fn summary(&self) -> Summary {
        let drops_counted = self.counts.drops_counted;
        let dropped = self.datagrams_dropped();
        let dropped = match self.counts.kernel_drops.and_then(|kernel| kernel.total()) {
            Some(total) => drops::caught_up(dropped, total),
            None => dropped,
        };
        Summary {
            ended: Ended::Interrupted,
            lines_sent: self.lines_sent(),
            lines_not_sent: self.lines_not_sent(),
            lines_skipped: self.lines_skipped(),
            datagrams_received: self.datagrams_received(),
            datagrams_ignored: self.datagrams_ignored(),
            datagrams_dropped: drops_counted.then_some(dropped),
            datagrams_refused: self.datagrams_refused(),
            // The opener's counts are its own until the chat ends, and so
            // are the per-peer ones of confirmed delivery.
            secured: None,
            delivery: None,
        }
    }

    /// Counts for a chat whose kernel counts drops, or not; where it does,
    /// `kernel_drops` is where its running total can be read.
    pub(crate) fn new(drops_counted: bool, kernel_drops: Option<KernelCount>) -> Progress {
        Progress {
            counts: Arc::new(Counts {
                drops_counted,
                kernel_drops: kernel_drops.filter(|_| drops_counted),
                ..Counts::default()
            }),
        }
    }

    /// The sender read a line of `read` bytes and sent `sent` of them, or not.
    pub(crate) fn line(&self, read: usize, sent: Sent) {
        add(&self.counts.bytes_read, read as u64);
        match sent {
            Sent::Bytes(bytes) => {
                add(&self.counts.bytes_sent, bytes as u64);
                add(&self.counts.lines_sent, 1);
            }
            Sent::Failed => add(&self.counts.lines_not_sent, 1),
            Sent::Skipped => add(&self.counts.lines_skipped, 1),
        }
    }

    /// The receiver's counts, as they stand after a batch.
    pub(crate) fn received(&self, received: u64, ignored: u64, dropped: u64) {
        let counts = &self.counts;
        counts.datagrams_received.store(received, Ordering::Relaxed);
        counts.datagrams_ignored.store(ignored, Ordering::Relaxed);
        counts.datagrams_dropped.store(dropped, Ordering::Relaxed);
    }

    /// The receiver's output took everything received so far.
    pub(crate) fn written(&self, received: u64) {
        self.counts.datagrams_written.store(received, Ordering::Relaxed);
    }

    /// Lines acknowledged: no longer pending.
    #[cfg_attr(not(feature = "secure"), allow(dead_code))] // only a secured chat sends reliably
    pub(crate) fn delivered(&self, lines: u64) {
        if lines > 0 {
            self.counts.lines_delivered.fetch_add(lines, Ordering::Relaxed);
            self.counts.lines_pending.fetch_sub(lines, Ordering::Relaxed);
        }
    }

    /// Lines sent again.
    #[cfg_attr(not(feature = "secure"), allow(dead_code))] // only a secured chat sends reliably
    pub(crate) fn resent(&self, lines: u64) {
        self.counts.lines_resent.fetch_add(lines, Ordering::Relaxed);
    }

    /// Lines counted not delivered without being sent (a peer given up).
    #[cfg_attr(not(feature = "secure"), allow(dead_code))] // only a secured chat sends reliably
    pub(crate) fn not_delivered(&self, lines: u64) {
        self.counts
            .lines_not_delivered
            .fetch_add(lines, Ordering::Relaxed);
    }

    /// Lines sent, waiting for their acknowledgement.
    #[cfg_attr(not(feature = "secure"), allow(dead_code))] // only a secured chat sends reliably
    pub(crate) fn pending(&self, lines: u64) {
        self.counts.lines_pending.fetch_add(lines, Ordering::Relaxed);
    }

    /// Lines that were pending, given up.
    #[cfg_attr(not(feature = "secure"), allow(dead_code))] // only a secured chat sends reliably
    pub(crate) fn pending_given_up(&self, lines: u64) {
        self.counts.lines_pending.fetch_sub(lines, Ordering::Relaxed);
        self.not_delivered(lines);
    }

    /// The sender waits for acknowledgements, or no longer.
    #[cfg_attr(not(feature = "secure"), allow(dead_code))] // only a secured chat sends reliably
    pub(crate) fn waiting(&self, waiting: bool) {
        self.counts.waiting_for_peer.store(waiting, Ordering::Relaxed);
        if waiting && let Some(hook) = self.counts.waiting_hook.0.get() {
            hook();
        }
    }

    /// The receiver learnt of more datagrams refused; `total` so far.
    pub(crate) fn refused(&self, total: u64) {
        self.counts.datagrams_refused.store(total, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_and_bytes_as_the_sender_reports_them() {
        let progress = Progress::new(true, None);
        let reader = progress.clone();
        progress.line(6, Sent::Bytes(5));
        progress.line(70_001, Sent::Failed);
        progress.line(2, Sent::Skipped);
        assert_eq!((reader.lines_sent(), reader.lines_not_sent()), (1, 1));
        assert_eq!(reader.lines_skipped(), 1);
        assert_eq!((reader.bytes_read(), reader.bytes_sent()), (70_009, 5));
        progress.received(4, 1, 2);
        progress.written(3);
        let summary = reader.summary();
        assert_eq!(summary.datagrams_received, 4);
        assert_eq!(summary.datagrams_dropped, Some(2));
        assert_eq!(reader.datagrams_written(), 3);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_summary_reads_the_kernels_drops_afresh_as_the_end_of_a_chat_does() {
        // A socket nobody reads, with a small buffer: the kernel drops most.
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket2::SockRef::from(&socket)
            .set_recv_buffer_size(1024)
            .unwrap();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..200 {
            sender
                .send_to(&[b'x'; 500], socket.local_addr().unwrap())
                .unwrap();
        }
        let total = drops::total(&socket).unwrap();
        assert!(total > 0, "nothing dropped");
        let progress = Progress::new(true, KernelCount::of(&socket));
        // The receiver has seen 2 of them, with a datagram it took.
        progress.received(1, 0, 2);
        assert_eq!(progress.datagrams_dropped(), 2);
        assert_eq!(progress.summary().datagrams_dropped, Some(u64::from(total)));
        let uncounted = Progress::new(false, KernelCount::of(&socket));
        assert_eq!(uncounted.summary().datagrams_dropped, None);
    }

    #[test]
    fn drops_catch_up_with_the_kernels_total_across_its_wrap() {
        assert_eq!(drops::caught_up(5, 9), 9);
        assert_eq!(drops::caught_up(9, 5), 9, "a total older than the count");
        assert_eq!(
            drops::caught_up(u64::from(u32::MAX) - 1, 3),
            u64::from(u32::MAX) + 4
        );
    }
}
