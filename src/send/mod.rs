//! Sender thread: reads input lines and sends each as one datagram to each peer, or to the room.

pub(crate) mod lines;
pub(crate) mod resend;
mod state;

use std::io::BufRead;
use std::net::{SocketAddr, UdpSocket};
use std::ops::ControlFlow::{Break, Continue};
use std::sync::Arc;
use std::time::Duration;

use crate::Error;
use crate::progress::Progress;
use crate::reliable::Outbox;
use crate::send::lines::LineReader;
use crate::send::state::Sending;
use crate::stop::{Stop, StopLine};
use crate::wire::Sealer;

/// Everything the sender thread needs, moved into it.
pub(crate) struct Sender<R> {
    pub socket: UdpSocket,
    /// Where every line goes: the peers, or the room's broadcast or group address.
    pub peers: Vec<SocketAddr>,
    /// Seals each line into the datagram that goes out.
    pub sealer: Sealer,
    /// The least time between two lines (`--rate`), if any.
    pub interval: Option<Duration>,
    /// Empty lines are not sent ([`Config::skip_empty`](crate::Config::skip_empty)).
    pub skip_empty: bool,
    pub input: R,
    /// The sender's counts, written as it goes. The chat reads them when it
    /// ends, even while the sender is still blocked reading a terminal (it
    /// is not waited for then), which is why they are not simply returned.
    pub progress: Progress,
    /// The lines in flight, when delivery is confirmed (`--reliable`).
    pub outbox: Option<Arc<Outbox>>,
    pub stop: StopLine,
}

impl<R: BufRead> Sender<R> {
    /// Sends every line of input, then tells the chat why it stopped, unless
    /// the chat stopped first (for then nobody is listening).
    pub fn run(self) {
        let stop = self.stop.clone();
        if let Some(reason) = self.send_lines() {
            stop.request(reason);
        }
    }

    /// The loop: reads each line and hands it to [`Sending`], which keeps
    /// what the sender keeps between lines and does what each event asks.
    fn send_lines(self) -> Option<Stop> {
        let Sender {
            socket,
            peers,
            sealer,
            interval,
            skip_empty,
            input,
            progress,
            outbox,
            stop,
        } = self;
        let mut sending = Sending::new(socket, peers, sealer, interval, skip_empty, stop);
        if let Some(outbox) = outbox {
            sending = sending.reliably(outbox);
        }
        let mut lines = LineReader::new(input, sending.limit());
        let stopped = loop {
            let read = match lines.next_line() {
                Ok(Some(read)) => read,
                Ok(None) => break Some(Stop::EndOfInput),
                Err(source) => {
                    break Some(Stop::Failed(Error::Io {
                        op: "read input",
                        source,
                    }));
                }
            };
            let sent = match sending.line(read.line, read.more_at_hand) {
                Continue(sent) => sent,
                Break(()) => break None,
            };
            // Counted here: the reader knows how much input the line took.
            progress.line(lines.last_read(), sent);
        };
        sending.end(stopped)
    }
}
