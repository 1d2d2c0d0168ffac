//! Receiver thread: takes each datagram from the socket, judges its source, opens it, and prints it as lines.

pub(crate) mod drops;
pub(crate) mod events;
pub(crate) mod filter;
pub(crate) mod inbox;
pub(crate) mod refusals;
mod state;

use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::ops::ControlFlow::Break;
use std::time::SystemTime;

use crate::display::Style;
use crate::progress::Progress;
use crate::receive::events::EventObjects;
use crate::receive::filter::{SourceFilter, Verdict};
use crate::receive::inbox::Inbox;
use crate::receive::state::Receiving;
use crate::stop::StopLine;
use crate::summary::Secured;
use crate::wire::{Opened, Opener};

/// What the receiver counted, handed back when it ends.
#[derive(Debug, Default)]
pub(crate) struct Received {
    /// Datagrams shown.
    pub shown: u64,
    /// Datagrams from hosts not heard, not shown.
    pub ignored: u64,
    /// Datagrams the kernel dropped for a full receive buffer, where it counts them.
    pub dropped: Option<u64>,
    /// What a secured chat's opener counted.
    pub secured: Option<Secured>,
    /// Datagrams sent that a peer refused (see [`refusals::Refusals`]).
    pub refused: u64,
}

/// Everything the receiver thread needs, moved into it.
pub(crate) struct Receiver<'a, W> {
    pub socket: &'a UdpSocket,
    pub output: W,
    pub filter: &'a SourceFilter,
    pub style: Style,
    pub opener: Opener,
    /// Whether the kernel reports the datagrams it drops (see [`drops::start_counting`]).
    pub counts_drops: bool,
    /// Where the lines go: refusals without an address are the one destination's.
    pub destinations: &'a [SocketAddr],
    /// The receiver's live counts, written after each batch.
    pub progress: Progress,
    pub stop: StopLine,
}

impl<W: Write> Receiver<'_, W> {
    /// Receives until the chat stops, then flushes. Returns what it counted,
    /// and tells the chat to stop when the output closes or fails.
    ///
    /// This is the loop; what it keeps between datagrams, and what each
    /// event does to it, is [`Receiving`]'s.
    pub fn run(self) -> Received {
        let socket = self.socket;
        let mut inbox = Inbox::new();
        let mut receiving = Receiving::new(self);
        let stopped_by_itself = loop {
            let wait = receiving.all_written();
            if wait {
                receiving.bound_the_wait();
            }
            let taken = inbox.recv(socket, wait, |datagram| receiving.datagram(datagram));
            let next = match taken {
                Ok(batch) => receiving.batch(batch),
                Err(err) if wait && receiving.wait_is_bounded() && is_timeout(&err) => receiving.quiet(),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => receiving.drained(),
                Err(err) => receiving.failed(err, &mut inbox),
            };
            if let Break(reason) = next {
                break reason;
            }
        };
        receiving.end(stopped_by_itself, &mut inbox)
    }
}

/// A receive that waited with a bound ended for it: `EAGAIN` on Unix,
/// `WSAETIMEDOUT` on Windows.
fn is_timeout(err: &io::Error) -> bool {
    matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// What became of one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not opened, for its source: ignored (a host not heard) or this
    /// endpoint's own echo.
    Judged(Verdict),
    /// Opened and shown.
    Shown,
    /// Opened, and nothing to show: a sender's end of input, a duplicate.
    Nothing,
    /// Not shown: it did not open (see [`Opener::open`]).
    Refused,
}

/// What became of a datagram, in words, for the debug and trace lines.
fn describe(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Shown => "shown",
        Outcome::Judged(Verdict::Ignore) => "ignored (not a host this chat hears)",
        Outcome::Judged(_) => "not shown (this chat's own line, come back)",
        Outcome::Nothing => "opened: nothing to show (an end of input, or a line seen already)",
        Outcome::Refused => "not shown (it did not authenticate, or was sent too long ago)",
    }
}

/// One datagram from `from` (canonical, as the inbox gives it), arrived at
/// `arrived`: judged by its source, opened, and unless it is not to be shown,
/// appended to `out` as lines (see [`Style::push`], which labels every line
/// of a datagram holding several), after an object for what a secured chat
/// noticed, within the budget of `events`. This is the whole path from a
/// received datagram to output, without I/O; the fuzz target runs it.
#[allow(clippy::too_many_arguments)] // the path's every input, each used once
pub(crate) fn present(
    filter: &SourceFilter,
    style: &Style,
    opener: &mut Opener,
    events: &mut EventObjects,
    datagram: &mut [u8],
    from: &SocketAddr,
    arrived: SystemTime,
    out: &mut Vec<u8>,
) -> Outcome {
    let verdict = filter.judge(from);
    let labelled = match verdict {
        Verdict::Show => false,
        Verdict::ShowLabelled => true,
        Verdict::Ignore | Verdict::Echo => return Outcome::Judged(verdict),
    };
    match opener.open(datagram, from, arrived) {
        Opened::Line(line, event) => {
            if let Some(event) = event {
                events.push(style, event, from, arrived, out);
            }
            filter.with_name(from, |name| {
                style.push_named(line, from, name, labelled, arrived, out)
            });
            Outcome::Shown
        }
        Opened::Nothing(event) => {
            if let Some(event) = event {
                events.push(style, event, from, arrived, out);
            }
            Outcome::Nothing
        }
        Opened::Refused => Outcome::Refused,
        Opened::Reliable(incoming) => {
            let taken = filter.with_name(from, |name| {
                opener.deliver(incoming, from, |line| {
                    style.push_named(line, from, name, labelled, arrived, out)
                })
            });
            if taken.shown > 0 {
                Outcome::Shown
            } else {
                Outcome::Nothing
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net;
    use crate::receive::filter::Heard;
    use crate::send::lines::tests::stream;
    use proptest::prelude::*;
    use std::net::IpAddr;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    /// What the receiver makes of `datagram` from `from`, as the inbox hands it over.
    fn shown(filter: &SourceFilter, style: Style, datagram: &[u8], from: &str) -> (Verdict, String) {
        let mut out = Vec::new();
        let outcome = present(
            filter,
            &style,
            &mut Opener::Plain,
            &mut EventObjects::default(),
            &mut datagram.to_vec(),
            &net::canonical(addr(from)),
            SystemTime::now(),
            &mut out,
        );
        let verdict = match outcome {
            Outcome::Judged(verdict) => verdict,
            Outcome::Shown => filter.judge(&net::canonical(addr(from))),
            other => panic!("plain mode opens everything: {other:?}"),
        };
        (verdict, String::from_utf8(out).expect("output is UTF-8"))
    }

    fn peer_filter(peer: &str, accept_any: bool, label_all: bool) -> SourceFilter {
        SourceFilter::new(Heard::Peers(vec![addr(peer)]), accept_any, label_all)
    }

    #[test]
    fn shows_the_peer_unlabelled_and_a_stranger_labelled_with_accept_any() {
        let filter = peer_filter("10.0.0.1:2323", true, false);
        assert_eq!(
            shown(&filter, Style::default(), b"hi", "10.0.0.1:5"),
            (Verdict::Show, "hi\n".into())
        );
        assert_eq!(
            shown(&filter, Style::default(), b"yo", "10.0.0.2:6"),
            (Verdict::ShowLabelled, "<10.0.0.2:6> yo\n".into())
        );
        let strict = peer_filter("10.0.0.1:2323", false, false);
        assert_eq!(
            shown(&strict, Style::default(), b"psst", "10.0.0.2:6"),
            (Verdict::Ignore, String::new())
        );
    }

    #[test]
    fn labels_every_line_of_a_strangers_datagram_so_none_passes_for_the_peers() {
        let filter = peer_filter("10.0.0.1:2323", true, false);
        let (_, out) = shown(
            &filter,
            Style::default(),
            b"hi\r\npeer: send me the key\n\nbye\n",
            "10.0.0.2:6",
        );
        assert_eq!(
            out,
            "<10.0.0.2:6> hi\n<10.0.0.2:6> peer: send me the key\n<10.0.0.2:6> \n<10.0.0.2:6> bye\n"
        );
    }

    #[test]
    fn a_strangers_datagram_stays_one_escaped_line_when_sanitized() {
        let filter = peer_filter("10.0.0.1:2323", true, false);
        let style = Style {
            sanitize: true,
            ..Style::default()
        };
        let (_, out) = shown(&filter, style, b"hi\npeer: key?", "10.0.0.2:6");
        assert_eq!(out, "<10.0.0.2:6> hi\\x0apeer: key?\n");
    }

    #[test]
    fn shows_nothing_of_its_own_echo() {
        let me: IpAddr = "10.0.0.5".parse().unwrap();
        let room = SourceFilter::new(Heard::Everyone, false, false).dropping_echoes(40000, vec![me]);
        assert_eq!(
            shown(&room, Style::default(), b"mine", "10.0.0.5:40000"),
            (Verdict::Echo, String::new())
        );
    }

    proptest! {
        /// The path the fuzz target drives (`fuzz/fuzz_targets/datagram.rs`),
        /// with the same checks, over addresses from a small pool so that
        /// sources often match the peer.
        #[test]
        fn a_datagram_is_shown_only_from_the_peer_unless_accept_any_and_each_strangers_line_is_labelled(
            datagram in stream(),
            peer in 0usize..4,
            from in 0usize..4,
            port in any::<u16>(),
            accept_any in any::<bool>(),
            show_sender in any::<bool>(),
            sanitize in any::<bool>(),
        ) {
            let pool = ["192.168.1.6", "192.168.1.7", "::ffff:192.168.1.6", "fe80::6"];
            let peer = SocketAddr::new(pool[peer].parse().unwrap(), 2323);
            let from = SocketAddr::new(pool[from].parse().unwrap(), port);
            let same_host = peer.ip().to_canonical() == from.ip().to_canonical();
            let filter = SourceFilter::new(Heard::Peers(vec![peer]), accept_any, show_sender);
            let style = Style { sanitize, ..Style::default() };
            let (verdict, out) = shown(&filter, style, &datagram, &from.to_string());
            match verdict {
                Verdict::Ignore => {
                    prop_assert!(!same_host && !accept_any);
                    prop_assert!(out.is_empty());
                }
                Verdict::Show => prop_assert!(same_host && !show_sender),
                Verdict::Echo => prop_assert!(false, "a chat with a peer has no echoes to drop"),
                Verdict::ShowLabelled => {
                    prop_assert!(!same_host || show_sender);
                    // Every line, so no embedded newline can start an unlabelled one.
                    let label = format!("<{}> ", net::canonical(from));
                    for line in out.strip_suffix('\n').unwrap_or_default().split('\n') {
                        prop_assert!(line.starts_with(&label), "{:?}", out);
                    }
                }
            }
            if verdict != Verdict::Ignore {
                prop_assert!(out.ends_with('\n'));
            }
        }

        /// With several peers or in a room, every line shown names its sender,
        /// and this endpoint's own echo (its port, on one of its addresses) is
        /// never shown.
        #[test]
        fn with_several_senders_every_shown_line_is_labelled_and_no_echo_is_shown(
            datagram in stream(),
            room in any::<bool>(),
            from in 0usize..4,
            port in 40000u16..40004,
        ) {
            let pool = ["192.168.1.6", "192.168.1.7", "::ffff:192.168.1.6", "10.0.0.1"];
            let heard = if room {
                Heard::Networks(vec!["192.168.1.0/24".parse().unwrap()])
            } else {
                Heard::Peers(vec!["192.168.1.6:2323".parse().unwrap(), "192.168.1.7:2323".parse().unwrap()])
            };
            let me: IpAddr = "192.168.1.6".parse().unwrap();
            let filter = SourceFilter::new(heard, false, false).dropping_echoes(40000, vec![me]);
            let from = SocketAddr::new(pool[from].parse().unwrap(), port);
            let (verdict, out) = shown(&filter, Style::default(), &datagram, &from.to_string());
            let echo = from.ip().to_canonical() == me && port == 40000;
            prop_assert_eq!(verdict == Verdict::Echo, echo);
            prop_assert_ne!(verdict, Verdict::Show);
            if verdict == Verdict::ShowLabelled {
                let label = format!("<{}> ", net::canonical(from));
                for line in out.strip_suffix('\n').unwrap_or_default().split('\n') {
                    prop_assert!(line.starts_with(&label), "{:?}", out);
                }
            } else {
                prop_assert!(out.is_empty());
            }
        }
    }
}
