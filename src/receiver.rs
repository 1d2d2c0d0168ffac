//! Receiver thread: prints each datagram from the socket as one line of output.

use std::io::{self, Write};
use std::net::UdpSocket;
use std::time::SystemTime;

use crate::Error;
use crate::chat::{Shared, Stop};
use crate::filter::{SourceFilter, StrangerLog, Verdict};
use crate::net;

/// Output is written in chunks of about this size while datagrams keep coming,
/// so a burst costs one `write` per chunk rather than one per line.
const OUTPUT_CHUNK: usize = 64 * 1024;

/// Receives until the chat stops, then flushes. Returns why it stopped on its own.
/// `filter` decides which datagrams are shown, and which start with their address.
pub(crate) fn run<W: Write>(
    socket: &UdpSocket,
    mut output: W,
    filter: &SourceFilter,
    shared: &Shared,
) -> Option<Stop> {
    let mut datagram = vec![0u8; net::RECV_BUFFER];
    let mut pending = Vec::with_capacity(OUTPUT_CHUNK);
    let mut strangers = StrangerLog::new(filter.heard());
    let stopped_by_itself = loop {
        // Block only when everything received so far is on the output: a line
        // must reach a pipe or file within milliseconds, not when a buffer fills.
        let wait = pending.is_empty();
        match net::recv(socket, &mut datagram, wait) {
            Ok(received) => {
                if shared.is_stopping() {
                    break None;
                }
                let Some(from) = received.from else {
                    continue;
                };
                // The time of arrival, as near to the kernel's as we can cheaply get.
                let arrived = SystemTime::now();
                match filter.render(&datagram[..received.len], &from, arrived, &mut pending) {
                    Verdict::Ignore => {
                        strangers.ignored(&from, received.len);
                        shared.count_ignored();
                        continue;
                    }
                    Verdict::Echo => continue,
                    Verdict::Show | Verdict::ShowLabelled => {}
                }
                shared.count_received();
                if pending.len() >= OUTPUT_CHUNK
                    && let Err(stop) = write(&mut output, &mut pending, false)
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
    // Whatever stopped us, what was received is shown.
    match write(&mut output, &mut pending, true) {
        Ok(()) => stopped_by_itself,
        Err(stop) => stopped_by_itself.or(Some(stop)),
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
