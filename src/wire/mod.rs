//! The wire: how a line becomes a datagram on the way out, and a datagram a line on the way in.
//!
//! This is the one seam between the socket and the two directions. The
//! sender hands each line to a [`Sealer`] and sends what comes back; the
//! receiver hands each datagram to an [`Opener`] and shows what comes back.
//! Neither knows the format. In plain mode (the article's script's format,
//! the default) both pass the bytes through as they are: no copy, no header, and
//! one predictable branch per datagram. With a secret, lines are sealed
//! (format 2: `format.rs` is its layout and kinds, `sealed.rs` the sealing,
//! `open.rs` the receiver's rules, with `addressed.rs`, `sessions.rs`,
//! `window.rs` and `telling.rs` for their parts).
//!
//! Every kind of sealed datagram goes through [`sealed::Sealer::seal_flagged`] on
//! the way out and [`open::Opener::open`] on the way in: a new kind (an
//! acknowledgement, say) is a constant in [`format::Kind`], a method here
//! for the sender, and a branch in `open` where the kind is looked at.

#[cfg(feature = "secure")]
pub(crate) mod addressed;
pub(crate) mod format;
#[cfg(feature = "secure")]
pub(crate) mod open;
pub(crate) mod opened;
#[cfg(feature = "secure")]
pub(crate) mod sealed;
#[cfg(feature = "secure")]
pub(crate) mod secret;
#[cfg(feature = "secure")]
pub(crate) mod sessions;
#[cfg(feature = "secure")]
pub(crate) mod telling;
#[cfg(feature = "secure")]
pub(crate) mod window;

use std::io;
use std::net::SocketAddr;
use std::time::SystemTime;

use crate::reliable::deliveries::Acks;
use crate::summary::Secured;
#[allow(unused_imports)] // for the plain receiver's hint that a peer seals its lines
pub(crate) use crate::wire::format::looks_sealed;
pub(crate) use crate::wire::opened::Opened;

/// Turns lines into datagrams. Owned by the sender thread.
#[derive(Default)]
pub(crate) enum Sealer {
    /// The line is the datagram.
    #[default]
    Plain,
    /// Sealed with the chat's secret.
    #[cfg(feature = "secure")]
    Sealed(Box<sealed::Sealer>),
}

impl Sealer {
    /// Takes the next line's number, once per line whatever the number of
    /// peers (a plain chat numbers nothing: 0).
    #[inline]
    pub fn next_line(&mut self) -> u64 {
        match self {
            Sealer::Plain => 0,
            #[cfg(feature = "secure")]
            Sealer::Sealed(sealer) => sealer.next_line(),
        }
    }

    /// The bytes to send to `to` for line `number`: `line` itself, or a
    /// datagram the sealer built in a buffer of its own (each destination
    /// has its own, for it names the destination).
    #[inline]
    pub fn seal<'a>(&'a mut self, number: u64, line: &'a [u8], to: &SocketAddr) -> io::Result<&'a [u8]> {
        match self {
            Sealer::Plain => {
                let _ = (number, to);
                Ok(line)
            }
            #[cfg(feature = "secure")]
            Sealer::Sealed(sealer) => sealer.seal(format::Kind::LINE, number, line, to),
        }
    }

    /// The bytes to send for a reliable line or end (`send`), sealed with
    /// its base; `scratch` holds the body meanwhile. `None` for a plain
    /// chat, which sends nothing reliably.
    pub fn seal_reliable<'a>(
        &'a mut self,
        send: &crate::reliable::outbox::Send,
        scratch: &mut Vec<u8>,
    ) -> Option<io::Result<&'a [u8]>> {
        match self {
            Sealer::Plain => {
                let _ = (send, scratch);
                None
            }
            #[cfg(feature = "secure")]
            Sealer::Sealed(sealer) => {
                scratch.clear();
                // The outbox keeps a line's number within the window above its base.
                let behind = u16::try_from(send.number - send.base).unwrap_or(u16::MAX);
                scratch.extend_from_slice(&behind.to_be_bytes());
                let (kind, flags) = match &send.line {
                    Some(line) => {
                        scratch.extend_from_slice(line);
                        let flags = if send.ack_now { format::ACK_NOW } else { 0 };
                        (format::Kind::RELIABLE_LINE, flags)
                    }
                    None => (format::Kind::RELIABLE_END, 0),
                };
                Some(sealer.seal_flagged(kind, flags, send.number, scratch, &send.to))
            }
        }
    }

    /// The session lines are sealed in; `None` for a plain chat.
    pub fn session(&self) -> Option<u64> {
        match self {
            Sealer::Plain => None,
            #[cfg(feature = "secure")]
            Sealer::Sealed(sealer) => Some(sealer.session()),
        }
    }

    /// A sealer for the same session, for another thread (see
    /// [`sealed::Sealer::twin`]); plain for a plain chat.
    pub fn twin(&self) -> Sealer {
        match self {
            Sealer::Plain => Sealer::Plain,
            #[cfg(feature = "secure")]
            Sealer::Sealed(sealer) => Sealer::Sealed(Box::new(sealer.twin())),
        }
    }

    /// The datagram that tells `to` the input has ended, if the format has one.
    pub fn end(&mut self, to: &SocketAddr) -> Option<io::Result<&[u8]>> {
        match self {
            Sealer::Plain => {
                let _ = to;
                None
            }
            #[cfg(feature = "secure")]
            Sealer::Sealed(sealer) => Some(sealer.end(to)),
        }
    }

    /// The longest line that fits in a datagram of `max_payload` bytes.
    pub fn max_line(&self, max_payload: usize) -> usize {
        match self {
            Sealer::Plain => max_payload,
            #[cfg(feature = "secure")]
            Sealer::Sealed(_) => max_payload.saturating_sub(format::OVERHEAD),
        }
    }

    /// `secured` for messages about sealed lines, else nothing.
    pub fn kind(&self) -> &'static str {
        match self {
            Sealer::Plain => "",
            #[cfg(feature = "secure")]
            Sealer::Sealed(_) => "secured ",
        }
    }
}

/// Turns datagrams into lines. Owned by the receiver thread.
#[derive(Default)]
pub(crate) enum Opener {
    /// The datagram is the line.
    #[default]
    Plain,
    /// Opened with the chat's secret, and checked against replays.
    #[cfg(feature = "secure")]
    Sealed(Box<open::Opener>),
}

impl Opener {
    /// The line `datagram` from `from` holds. It may be opened in place,
    /// hence `mut`; `now` is when it arrived.
    #[inline]
    pub fn open<'a>(&mut self, datagram: &'a mut [u8], from: &SocketAddr, now: SystemTime) -> Opened<'a> {
        match self {
            Opener::Plain => {
                let _ = (from, now);
                Opened::Line(datagram, None)
            }
            #[cfg(feature = "secure")]
            Opener::Sealed(opener) => opener.open(datagram, from, now),
        }
    }

    /// Shows a reliable line or end in its session's order, through `show`.
    #[inline]
    pub fn deliver(
        &mut self,
        incoming: crate::reliable::deliveries::Incoming<'_>,
        from: &SocketAddr,
        show: impl FnMut(&[u8]),
    ) -> crate::reliable::deliveries::Taken {
        match self {
            Opener::Plain => {
                // A plain chat opens no reliable datagram.
                let _ = (incoming, from, show);
                Default::default()
            }
            #[cfg(feature = "secure")]
            Opener::Sealed(opener) => opener.deliver(incoming, from, show),
        }
    }

    /// Sends the acknowledgements due (or owed) for what was written, through `socket`.
    #[inline]
    pub fn send_acks(&mut self, socket: &std::net::UdpSocket, which: Acks) {
        match self {
            Opener::Plain => {
                let _ = (socket, which);
            }
            #[cfg(feature = "secure")]
            Opener::Sealed(opener) => opener.send_acks(socket, which),
        }
    }

    /// The receiver thread writes its output (`true`), or has written it.
    #[inline]
    pub fn writing(&self, writing: bool) {
        match self {
            Opener::Plain => {
                let _ = writing;
            }
            #[cfg(feature = "secure")]
            Opener::Sealed(opener) => opener.writing(writing),
        }
    }

    /// Whether acknowledgements are due.
    pub fn has_acks(&self) -> bool {
        match self {
            Opener::Plain => false,
            #[cfg(feature = "secure")]
            Opener::Sealed(opener) => opener.has_acks(),
        }
    }

    /// Whether acknowledgements are owed, due or not.
    pub fn owes_acks(&self) -> bool {
        match self {
            Opener::Plain => false,
            #[cfg(feature = "secure")]
            Opener::Sealed(opener) => opener.owes_acks(),
        }
    }

    /// Whether [`open`](Self::open) needs the time of arrival.
    pub fn needs_time(&self) -> bool {
        !matches!(self, Opener::Plain)
    }

    /// Tells what a secured chat noticed and has not told yet, as far as
    /// its budget of warnings a second allows: called when the queue is
    /// drained, so that a loss is told with the next datagram from anyone,
    /// not only with the next loss.
    #[inline]
    pub fn tell_if_due(&mut self) {
        match self {
            Opener::Plain => {}
            #[cfg(feature = "secure")]
            Opener::Sealed(opener) => opener.tell_if_due(),
        }
    }

    /// At the end of the chat: what a secured chat counted.
    pub fn finish(&mut self) -> Option<Secured> {
        match self {
            Opener::Plain => None,
            #[cfg(feature = "secure")]
            Opener::Sealed(opener) => Some(opener.finish()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_datagrams_look_sealed_and_text_does_not() {
        assert!(!looks_sealed(b"hello"));
        assert!(!looks_sealed(&[b'x'; 200]));
        assert!(
            !looks_sealed(&[1; 73]),
            "shorter than version 1's empty line sealed"
        );
        assert!(looks_sealed(&[1; 74]), "an older udpchat's");
        assert!(!looks_sealed(&[2; 92]), "shorter than an empty line sealed");
        assert!(looks_sealed(&[2; 93]));
        #[cfg(feature = "secure")]
        {
            let secret = crate::Secret::generate().unwrap();
            let mut sealer = sealed::Sealer::new(&secret).unwrap();
            let to = "10.0.0.1:9".parse().unwrap();
            for line in [&b""[..], b"hi", &[b'x'; 1000]] {
                let number = sealer.next_line();
                assert!(looks_sealed(
                    sealer.seal(format::Kind::LINE, number, line, &to).unwrap()
                ));
            }
        }
    }

    #[test]
    fn plain_mode_passes_the_bytes_through_unchanged() {
        let line = b"caf\xe9\r\n\x00";
        let to = "10.0.0.1:9".parse().unwrap();
        assert_eq!(Sealer::Plain.next_line(), 0);
        assert_eq!(Sealer::Plain.seal(0, line, &to).unwrap(), line);
        assert!(Sealer::Plain.end(&to).is_none());
        assert_eq!(Sealer::Plain.max_line(65_507), 65_507);
        let mut datagram = line.to_vec();
        let pointer = datagram.as_ptr();
        let from = "10.0.0.1:9".parse().unwrap();
        let Opened::Line(opened, None) = Opener::Plain.open(&mut datagram, &from, SystemTime::UNIX_EPOCH)
        else {
            panic!("plain mode opens everything");
        };
        assert_eq!((opened, opened.as_ptr()), (&line[..], pointer), "no copy");
    }
}
