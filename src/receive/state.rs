//! What the receiver keeps while it runs, and one method per event: a datagram, a batch taken, the queue drained, a receive that failed, the end.
//!
//! [`Receiver::run`](super::Receiver::run) is the loop; [`Receiving`] is
//! everything it carries from one datagram to the next: the output and the
//! lines not yet written to it, and what it tracks (counts, drops, refusals,
//! strangers, sources). Something new to track is a field here and a line in
//! the events it cares about: the loop does not change.

use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::ops::ControlFlow::{self, Break, Continue};
use std::time::SystemTime;

use log::{debug, trace, warn};

use crate::Error;
use crate::display::Style;
use crate::net;
use crate::progress::Progress;
use crate::receive::drops::Drops;
use crate::receive::events::EventObjects;
use crate::receive::filter::{SourceFilter, StrangerLog, Verdict};
use crate::receive::inbox::{Batch, Datagram, Inbox};
use crate::receive::refusals::Refusals;
use crate::receive::{Outcome, Received, Receiver, describe, present};
use crate::reliable::deliveries::{ACK_DELAY, Acks};
use crate::stop::{Stop, StopLine};
use crate::wire::{self, Opener};

/// Output is written in chunks of about this size while datagrams keep coming,
/// so a burst costs one `write` per chunk rather than one per line.
const OUTPUT_CHUNK: usize = 64 * 1024;

/// What the loop does after an event: go on, or stop, with the reason to
/// tell the chat (`None` when the chat is stopping already).
pub(super) type Next = ControlFlow<Option<Stop>>;

/// The receiver's state between events.
pub(super) struct Receiving<'a, W> {
    socket: &'a UdpSocket,
    output: Output<W>,
    filter: &'a SourceFilter,
    style: Style,
    opener: Opener,
    /// JSON objects for what a secured chat notices, a few a second.
    events: EventObjects,
    /// Whether each datagram needs its time of arrival: reading the clock
    /// costs about 0.1 µs, a tenth of all else a small datagram costs here.
    shows_time: bool,
    /// The log level, asked once (it is fixed once logging is set up), so
    /// that a chat without -vv pays one test of a field per datagram for
    /// its debug lines.
    debugging: bool,
    tracing: bool,
    /// Datagrams shown and ignored; the rest is filled in at the end.
    received: Received,
    drops: Drops,
    /// Whether the kernel reports the datagrams it drops.
    counts_drops: bool,
    refusals: Refusals,
    strangers: StrangerLog,
    sources: Sources,
    /// A datagram found the chat stopping: no more are taken.
    stopping: bool,
    /// A write of the output failed: what it held is not acknowledged.
    output_failed: bool,
    /// A receive that waits gives up after [`ACK_DELAY`]: acknowledgements
    /// are owed (the socket's read timeout is set).
    wait_bounded: bool,
    /// A chat without a secret looks at what it shows for datagrams a
    /// secured udpchat sends, until it has told of one.
    watching_for_sealed: bool,
    progress: Progress,
    stop: StopLine,
}

impl<'a, W: Write> Receiving<'a, W> {
    /// The state of `receiver` before its first datagram.
    pub fn new(receiver: Receiver<'a, W>) -> Self {
        let Receiver {
            socket,
            output,
            filter,
            style,
            opener,
            counts_drops,
            destinations,
            progress,
            stop,
        } = receiver;
        let watching_for_sealed = matches!(opener, Opener::Plain);
        Receiving {
            socket,
            output: Output {
                writer: output,
                pending: Vec::with_capacity(OUTPUT_CHUNK),
            },
            filter,
            shows_time: style.shows_time() || opener.needs_time(),
            style,
            opener,
            events: EventObjects::default(),
            debugging: log::log_enabled!(log::Level::Debug),
            tracing: log::log_enabled!(log::Level::Trace),
            received: Received::default(),
            drops: Drops::default(),
            counts_drops,
            refusals: Refusals::new(destinations),
            strangers: StrangerLog::new(filter.heard()),
            sources: Sources::default(),
            stopping: false,
            output_failed: false,
            wait_bounded: false,
            watching_for_sealed,
            progress,
            stop,
        }
    }

    /// Whether everything received so far is on the output: only then may
    /// the next receive block, for a line must reach a pipe or file within
    /// milliseconds, not when a buffer fills. Acknowledgements due count as
    /// unwritten too: a repeat, a held line or an end shows nothing, and
    /// where a receive does not tell that the queue is drained (all but
    /// Linux), only a receive that does not wait leads to sending them.
    pub fn all_written(&self) -> bool {
        self.output.pending.is_empty() && !self.opener.has_acks()
    }

    /// Before a receive that waits: while acknowledgements are owed, not
    /// yet due (lines in order, to be acknowledged with the next ones), it
    /// waits at most [`ACK_DELAY`]; else without bound, so that an idle
    /// chat never wakes. The socket's read timeout changes only when that
    /// does.
    pub fn bound_the_wait(&mut self) {
        // Once a write failed nothing more is acknowledged.
        let owed = self.opener.owes_acks() && !self.output_failed;
        if owed == self.wait_bounded {
            return;
        }
        match self.socket.set_read_timeout(owed.then_some(ACK_DELAY)) {
            Ok(()) => self.wait_bounded = owed,
            Err(err) => debug!("cannot bound the wait for the acknowledgements owed: {err}"),
        }
    }

    /// Whether a receive that waits gives up after [`ACK_DELAY`].
    pub fn wait_is_bounded(&self) -> bool {
        self.wait_bounded
    }

    /// A receive waited [`ACK_DELAY`] for nothing: the acknowledgements
    /// owed go now, for no line may come to make them due.
    pub fn quiet(&mut self) -> Next {
        if !self.output_failed {
            self.opener.send_acks(self.socket, Acks::All);
        }
        Continue(())
    }

    /// A datagram taken from the socket: judged, opened, appended to the
    /// output and counted. False when the chat is stopping: take no more.
    #[inline]
    pub fn datagram(&mut self, datagram: Datagram<'_>) -> bool {
        let Datagram {
            payload,
            from,
            drops_so_far,
        } = datagram;
        if let Some(total) = drops_so_far {
            self.drops.update(total);
        }
        // Asked for each datagram: under a flood the queue never
        // empties, and the wake-up itself must not be shown.
        if self.stop.is_stopping() {
            self.stopping = true;
            return false;
        }
        let Some(from) = from else {
            return true;
        };
        // The time of arrival, as near to the kernel's as we can cheaply get.
        let arrived = if self.shows_time {
            SystemTime::now()
        } else {
            SystemTime::UNIX_EPOCH
        };
        let len = payload.len();
        let outcome = present(
            self.filter,
            &self.style,
            &mut self.opener,
            &mut self.events,
            payload,
            &from,
            arrived,
            &mut self.output.pending,
        );
        if self.watching_for_sealed && outcome == Outcome::Shown && wire::looks_sealed(payload) {
            self.watching_for_sealed = false;
            warn!(
                "{from} looks like a secured udpchat: use the same secret (--secret-file or \
                 UDPCHAT_SECRET) to read it; until then its lines show as noise"
            );
        }
        self.count(outcome, &from, len);
        true
    }

    /// What became of a datagram of `len` bytes from `from`: counted, and logged.
    #[inline]
    fn count(&mut self, outcome: Outcome, from: &SocketAddr, len: usize) {
        match outcome {
            Outcome::Judged(Verdict::Ignore) => {
                self.strangers.ignored(from, len);
                self.received.ignored += 1;
            }
            Outcome::Shown => {
                self.received.shown += 1;
                self.refusals.heard_from(from);
            }
            // Datagrams that did not open are the opener's to count and tell.
            Outcome::Judged(_) | Outcome::Nothing | Outcome::Refused => {}
        }
        if self.debugging {
            self.sources.log_first(from, outcome);
        }
        if self.tracing {
            trace!("{len} bytes from {from}: {}", describe(outcome));
        }
    }

    /// A receive returned datagrams (each one seen by [`datagram`](Self::datagram)):
    /// the counts go to [`Progress`], and the output is written once the
    /// queue is drained or a chunk is full.
    pub fn batch(&mut self, batch: Batch) -> Next {
        if let Some(total) = batch.drops_so_far {
            self.drops.update(total);
        }
        self.progress
            .received(self.received.shown, self.received.ignored, self.drops.counted());
        if self.stopping {
            return Break(None);
        }
        if batch.drained {
            return self.drained();
        }
        if self.output.pending.len() >= OUTPUT_CHUNK {
            return self.write(false);
        }
        Continue(())
    }

    /// The socket's queue is empty: what a secured chat noticed is told if
    /// due, and everything received is written and flushed.
    pub fn drained(&mut self) -> Next {
        self.opener.tell_if_due();
        self.events.drained(&self.style, &mut self.output.pending);
        self.write(true)
    }

    /// A receive failed with `err`. Most failures are reports of datagrams
    /// sent earlier (see [`Refusals`]), and the chat carries on.
    pub fn failed(&mut self, err: io::Error, inbox: &mut Inbox) -> Next {
        if err.kind() == io::ErrorKind::Interrupted {
            return Continue(());
        }
        if self.stop.is_stopping() {
            return Break(None);
        }
        // An ICMP error for a datagram sent earlier: Linux (with
        // IP_RECVERR) fails this receive once and has queued the
        // error with the address, which we read now; Windows fails it
        // with WSAECONNRESET and no address. Either way, the peer
        // may start later: carry on.
        if self.take_errors(inbox) == 0 && !net::may_be_icmp_report(&err) {
            return Break(Some(Stop::Failed(Error::Io {
                op: "receive from the socket",
                source: err,
            })));
        }
        if !net::QUEUES_ERRORS && net::is_peer_unreachable(&err) {
            self.refusals.refused(None, &err);
        }
        debug!("a receive reported {err}");
        self.progress.refused(self.refusals.total());
        Continue(())
    }

    /// The loop ended, by itself for `stopped` or because the chat is
    /// stopping (`None`). Whatever stopped it, what was received is shown,
    /// and every drop and refusal told: the last refusals may not have
    /// woken it. Returns the counts, and tells the chat to stop when the
    /// receiver stopped it or the output failed.
    pub fn end(mut self, stopped: Option<Stop>, inbox: &mut Inbox) -> Received {
        self.events.end(&self.style, &mut self.output.pending);
        let flushed = self.write_output(true);
        if !self.output_failed {
            self.opener.send_acks(self.socket, Acks::All);
        }
        self.take_errors(inbox);
        self.received.refused = self.refusals.total();
        self.progress.refused(self.received.refused);
        self.received.dropped = self.drops.end(self.socket, self.counts_drops);
        self.received.secured = self.opener.finish();
        if let Some(reason) = stopped.or(flushed.err()) {
            self.stop.request(reason);
        }
        self.received
    }

    /// Writes the lines pending (and with `flush`, flushes the output),
    /// then acknowledges the reliable lines written: only written lines
    /// are acknowledged, so an output that blocks holds their senders back.
    fn write(&mut self, flush: bool) -> Next {
        if let Err(reason) = self.write_output(flush) {
            return Break(Some(reason));
        }
        self.progress.written(self.received.shown);
        self.opener.send_acks(self.socket, Acks::Due);
        Continue(())
    }

    /// Writes the output, telling the opener (whose chat may send reliably:
    /// no acknowledgement is taken meanwhile) when it starts and ends. Once
    /// a write failed, nothing more is acknowledged: what it held was not
    /// written.
    fn write_output(&mut self, flush: bool) -> Result<(), Stop> {
        self.opener.writing(true);
        let written = self.output.write(flush);
        self.opener.writing(false);
        if written.is_err() {
            self.output_failed = true;
        }
        written
    }

    /// Takes the errors queued on the socket (Linux) into the refusals;
    /// returns how many there were.
    fn take_errors(&mut self, inbox: &mut Inbox) -> usize {
        let refusals = &mut self.refusals;
        inbox.errors(self.socket, |to, err| refusals.refused(to, &err))
    }
}

/// The receiver's output, and the lines appended for it and not yet written.
struct Output<W> {
    writer: W,
    pending: Vec<u8>,
}

impl<W: Write> Output<W> {
    /// Writes `pending` out and empties it. A closed output (`EPIPE`) is a
    /// normal way for the chat to end, as for `udpchat ... | head -n 1`.
    fn write(&mut self, flush: bool) -> Result<(), Stop> {
        let writer = &mut self.writer;
        let result = writer
            .write_all(&self.pending)
            .and_then(|()| if flush { writer.flush() } else { Ok(()) });
        self.pending.clear();
        result.map_err(|err| match err.kind() {
            io::ErrorKind::BrokenPipe => Stop::OutputClosed,
            _ => Stop::Failed(Error::Io {
                op: "write output",
                source: err,
            }),
        })
    }
}

/// Sources seen so far, for a debug line on each one's first datagram.
#[derive(Default)]
struct Sources {
    seen: Vec<SocketAddr>,
}

/// At most this many sources get a first-datagram debug line, so a flood
/// from forged addresses cannot grow memory or the log without bound.
const SOURCES_LOGGED: usize = 64;

impl Sources {
    fn log_first(&mut self, from: &SocketAddr, outcome: Outcome) {
        if self.seen.len() < SOURCES_LOGGED && !self.seen.contains(from) {
            self.seen.push(*from);
            debug!("first datagram from {from}: {}", describe(outcome));
        }
    }
}
