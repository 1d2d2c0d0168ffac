//! The resend thread of confirmed delivery: seals and sends what the outbox says is due, and sleeps while nothing is.

use std::net::UdpSocket;
use std::sync::Arc;
use std::thread;

use log::debug;

use crate::Error;
use crate::reliable::Outbox;
use crate::stop::{Stop, StopLine};
use crate::wire::Sealer;

/// Starts the thread that resends for `outbox` through `socket`, sealing
/// with `sealer` (a twin of the sender's). It returns once the outbox is
/// stopped; a failure to start it stops the chat.
pub(crate) fn start(outbox: Arc<Outbox>, mut sealer: Sealer, socket: UdpSocket, stop: StopLine) {
    let spawned = thread::Builder::new().name("resender".into()).spawn({
        let stop = stop.clone();
        move || {
            stop.unless_panicking("resender", || {
                let mut scratch = Vec::new();
                outbox.run_timers(|send| {
                    if let Some(Ok(datagram)) = sealer.seal_reliable(send, &mut scratch)
                        && let Err(err) = socket.send_to(datagram, send.to)
                    {
                        debug!("a line resent to {} was not sent: {err}", send.to);
                    }
                });
            })
        }
    });
    if let Err(source) = spawned {
        stop.request(Stop::Failed(Error::Io {
            op: "start the resend thread",
            source,
        }));
    }
}
