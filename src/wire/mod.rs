//! The wire: how a line becomes a datagram on the way out, and a datagram a line on the way in.
//!
//! This is the one seam between the socket and the two directions. The
//! sender hands each line to a [`Sealer`] and sends what comes back; the
//! receiver hands each datagram to an [`Opener`] and shows what comes back.
//! Neither knows the format. In plain mode (the seed script's format, the
//! default) both pass the bytes through as they are: no copy, no header, and
//! one predictable branch per datagram. With a secret, lines are sealed
//! (see `sealed.rs`).

pub(crate) mod opened;
#[cfg(feature = "secure")]
pub(crate) mod sealed;
#[cfg(feature = "secure")]
pub(crate) mod secret;

use std::io;
use std::net::SocketAddr;
use std::time::SystemTime;

use crate::summary::Secured;
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
    /// The bytes to send for `line`: `line` itself, or a datagram the
    /// sealer built in a buffer of its own.
    #[inline]
    pub fn seal<'a>(&'a mut self, line: &'a [u8]) -> io::Result<&'a [u8]> {
        match self {
            Sealer::Plain => Ok(line),
            #[cfg(feature = "secure")]
            Sealer::Sealed(sealer) => sealer.seal(line, false),
        }
    }

    /// The datagram that tells receivers the input has ended, if the format has one.
    pub fn end(&mut self) -> Option<io::Result<&[u8]>> {
        match self {
            Sealer::Plain => None,
            #[cfg(feature = "secure")]
            Sealer::Sealed(sealer) => Some(sealer.seal(&[], true)),
        }
    }

    /// The longest line that fits in a datagram of `max_payload` bytes.
    pub fn max_line(&self, max_payload: usize) -> usize {
        match self {
            Sealer::Plain => max_payload,
            #[cfg(feature = "secure")]
            Sealer::Sealed(_) => max_payload.saturating_sub(sealed::OVERHEAD),
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
    Sealed(Box<sealed::Opener>),
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

    /// Whether [`open`](Self::open) needs the time of arrival.
    pub fn needs_time(&self) -> bool {
        !matches!(self, Opener::Plain)
    }

    /// Tells what a secured chat noticed and has not told yet, if the last
    /// telling was a second ago or more: called when the queue is drained,
    /// so that a loss is told with the next datagram from anyone, not only
    /// with the next loss.
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

/// Whether `datagram` looks like a secured udpchat's, for a chat without a
/// secret to say why its peer's lines are noise. A cheap test, made on
/// every plain datagram shown until it first passes: the first byte is a
/// version of the secured format (1 and 2 are accepted: update this with
/// the format), and the datagram holds at least an empty line sealed (the
/// smallest of those versions, version 1's 58-byte header and 16-byte tag).
/// A plain line can pass it (a line of 74 bytes or more starting with the
/// byte 1 or 2), so it only ever leads to a hint, never to a datagram not
/// shown. It is here, beside the format, and not in `sealed`, because a
/// build without the `secure` feature tells it too.
pub(crate) fn looks_sealed(datagram: &[u8]) -> bool {
    const VERSIONS: [u8; 2] = [1, 2];
    const SMALLEST: usize = 58 + 16;
    datagram.len() >= SMALLEST && VERSIONS.contains(&datagram[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_datagrams_look_sealed_and_text_does_not() {
        assert!(!looks_sealed(b"hello"));
        assert!(!looks_sealed(&[b'x'; 200]));
        assert!(!looks_sealed(&[1; 73]), "shorter than an empty line sealed");
        assert!(looks_sealed(&[2; 74]));
        #[cfg(feature = "secure")]
        {
            assert_eq!(sealed::OVERHEAD, 74, "the smallest sealed datagram");
            let secret = crate::Secret::generate().unwrap();
            let mut sealer = sealed::Sealer::new(&secret).unwrap();
            for line in [&b""[..], b"hi", &[b'x'; 1000]] {
                assert!(looks_sealed(sealer.seal(line, false).unwrap()));
            }
        }
    }

    #[test]
    fn plain_mode_passes_the_bytes_through_unchanged() {
        let line = b"caf\xe9\r\n\x00";
        assert_eq!(Sealer::Plain.seal(line).unwrap(), line);
        assert!(Sealer::Plain.end().is_none());
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
