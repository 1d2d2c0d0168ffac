//! The wire: how a line becomes a datagram on the way out, and a datagram a line on the way in.
//!
//! This is the one seam between the socket and the two directions. The
//! sender hands each line to a [`Sealer`] and sends what comes back; the
//! receiver hands each datagram to an [`Opener`] and shows what comes back.
//! Neither knows the format. In plain mode (the seed script's format, the
//! default) both pass the bytes through as they are: no copy, no header, and
//! one predictable branch per datagram.

/// Turns lines into datagrams. Owned by the sender thread.
#[derive(Debug, Default)]
pub(crate) enum Sealer {
    /// The line is the datagram.
    #[default]
    Plain,
}

impl Sealer {
    /// The bytes to send for `line`: `line` itself, or a datagram the
    /// sealer built in a buffer of its own.
    #[inline]
    pub fn seal<'a>(&'a mut self, line: &'a [u8]) -> &'a [u8] {
        match self {
            Sealer::Plain => line,
        }
    }

    /// The longest line that fits in a datagram of `max_payload` bytes.
    pub fn max_line(&self, max_payload: usize) -> usize {
        match self {
            Sealer::Plain => max_payload,
        }
    }
}

/// Turns datagrams into lines. Owned by the receiver thread.
#[derive(Debug, Default)]
pub(crate) enum Opener {
    /// The datagram is the line.
    #[default]
    Plain,
}

/// What an [`Opener`] made of a datagram.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Opened<'a> {
    /// A line to show.
    Line(&'a [u8]),
}

impl Opener {
    /// The line `datagram` holds. It may be opened in place, hence `mut`.
    #[inline]
    pub fn open<'a>(&mut self, datagram: &'a mut [u8]) -> Opened<'a> {
        match self {
            Opener::Plain => Opened::Line(datagram),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_mode_passes_the_bytes_through_unchanged() {
        let line = b"caf\xe9\r\n\x00";
        assert_eq!(Sealer::Plain.seal(line), line);
        assert_eq!(Sealer::Plain.max_line(65_507), 65_507);
        let mut datagram = line.to_vec();
        let pointer = datagram.as_ptr();
        let Opened::Line(opened) = Opener::Plain.open(&mut datagram);
        assert_eq!((opened, opened.as_ptr()), (&line[..], pointer), "no copy");
    }
}
