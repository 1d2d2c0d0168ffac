//! Receiver thread: prints each datagram from the socket as one line of output.

use std::io::{self, Write};
use std::net::UdpSocket;
use std::time::{Duration, Instant, SystemTime};

use log::warn;

use crate::Error;
use crate::chat::{Shared, Stop, count};
use crate::filter::{SourceFilter, StrangerLog, Verdict};
use crate::inbox::Inbox;
use crate::net;

/// Output is written in chunks of about this size while datagrams keep coming,
/// so a burst costs one `write` per chunk rather than one per line.
const OUTPUT_CHUNK: usize = 64 * 1024;

/// Drops are reported on stderr at most this often, so a flood of them does
/// not become a flood of warnings.
const DROP_WARNING_INTERVAL: Duration = Duration::from_secs(1);

/// Receives until the chat stops, then flushes. Returns why it stopped on its own.
/// `filter` decides which datagrams are shown, and which start with their address.
pub(crate) fn run<W: Write>(
    socket: &UdpSocket,
    mut output: W,
    filter: &SourceFilter,
    shared: &Shared,
) -> Option<Stop> {
    let mut inbox = Inbox::new();
    let mut pending = Vec::with_capacity(OUTPUT_CHUNK);
    let mut strangers = StrangerLog::new(filter.heard());
    let mut drops = Drops::default();
    // Reading the clock costs about 0.1 µs, a tenth of all else a small
    // datagram costs here: only when the time is shown.
    let shows_time = filter.shows_time();
    let stopped_by_itself = loop {
        // Block only when everything received so far is on the output: a line
        // must reach a pipe or file within milliseconds, not when a buffer fills.
        let wait = pending.is_empty();
        let mut stopping = false;
        let taken = inbox.recv(socket, wait, |datagram| {
            if let Some(total) = datagram.drops_so_far {
                drops.update(total, shared);
            }
            if shared.is_stopping() {
                stopping = true;
                return false;
            }
            let Some(from) = datagram.from else {
                return true;
            };
            // The time of arrival, as near to the kernel's as we can cheaply get.
            let arrived = if shows_time {
                SystemTime::now()
            } else {
                SystemTime::UNIX_EPOCH
            };
            match filter.render(datagram.payload, &from, arrived, &mut pending) {
                Verdict::Ignore => {
                    strangers.ignored(&from, datagram.payload.len());
                    shared.count_ignored();
                }
                Verdict::Echo => {}
                Verdict::Show | Verdict::ShowLabelled => shared.count_received(),
            }
            true
        });
        if stopping {
            break None;
        }
        match taken {
            Ok(batch) => {
                if let Some(total) = batch.drops_so_far {
                    drops.update(total, shared);
                }
                let flush = batch.drained;
                if (flush || pending.len() >= OUTPUT_CHUNK)
                    && let Err(stop) = write(&mut output, &mut pending, flush)
                {
                    break Some(stop);
                }
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                if let Err(stop) = write(&mut output, &mut pending, true) {
                    break Some(stop);
                }
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) if net::is_peer_unreachable(&err) => shared.warn_peer_unreachable(&err),
            Err(_) if shared.is_stopping() => break None,
            Err(source) => {
                break Some(Stop::Failed(Error::Io {
                    op: "receive from the socket",
                    source,
                }));
            }
        }
    };
    // Whatever stopped us, what was received is shown, and every drop told.
    let flushed = write(&mut output, &mut pending, true);
    if let Some(total) = net::drops_so_far(socket) {
        drops.update(total, shared);
    }
    drops.warn();
    match flushed {
        Ok(()) => stopped_by_itself,
        Err(stop) => stopped_by_itself.or(Some(stop)),
    }
}

/// The kernel's running total of datagrams it dropped for this socket, and
/// what of it has not been reported yet.
#[derive(Default)]
struct Drops {
    total: u32,
    unreported: u64,
    last_warning: Option<Instant>,
}

impl Drops {
    /// Takes a new running total from the kernel; warns at once unless the
    /// last warning was less than [`DROP_WARNING_INTERVAL`] ago, in which case
    /// the next drop or the end of the chat reports these too.
    fn update(&mut self, total: u32, shared: &Shared) {
        // The kernel's counter is a u32 that wraps; the difference still
        // counts. A total older than one seen already (a datagram queued
        // before the drops that /proc reported) looks like a huge difference.
        let new = total.wrapping_sub(self.total);
        if new == 0 || new > u32::MAX / 2 {
            return;
        }
        self.total = total;
        self.unreported += u64::from(new);
        shared.count_dropped(new.into());
        let now = Instant::now();
        if self
            .last_warning
            .is_none_or(|last| now.duration_since(last) >= DROP_WARNING_INTERVAL)
        {
            self.last_warning = Some(now);
            self.warn();
        }
    }

    /// Says how many datagrams were dropped since the last warning, if any.
    fn warn(&mut self) {
        if self.unreported > 0 {
            warn!(
                "the kernel dropped {}: the receive buffer was full, so some \
                 lines were lost (a larger --recv-buffer, or --rate on the sender, helps)",
                count(std::mem::take(&mut self.unreported), "datagram")
            );
        }
    }
}

/// Writes `pending` out and empties it. A closed output (`EPIPE`) is a normal
/// way for the chat to end, as for `udpchat ... | head -n 1`.
fn write<W: Write>(output: &mut W, pending: &mut Vec<u8>, flush: bool) -> Result<(), Stop> {
    let result = output
        .write_all(pending)
        .and_then(|()| if flush { output.flush() } else { Ok(()) });
    pending.clear();
    result.map_err(|err| match err.kind() {
        io::ErrorKind::BrokenPipe => Stop::OutputClosed,
        _ => Stop::Failed(Error::Io {
            op: "write output",
            source: err,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dropped(shared: &Shared) -> u64 {
        shared.datagrams_dropped()
    }

    #[test]
    fn counts_drops_from_running_totals_ignoring_stale_ones_and_wrapping() {
        let shared = Shared::default();
        let mut drops = Drops::default();
        drops.update(5, &shared);
        assert_eq!(dropped(&shared), 5);
        drops.update(5, &shared);
        drops.update(3, &shared); // queued before the total already seen
        assert_eq!(dropped(&shared), 5);
        drops.update(1 << 31, &shared);
        drops.update(u32::MAX - 1, &shared);
        drops.update(2, &shared); // the kernel's u32 wrapped
        assert_eq!(dropped(&shared), u64::from(u32::MAX) + 3);
    }
}
