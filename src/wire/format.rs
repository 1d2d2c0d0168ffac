//! The secured format's layout, version 2: one fixed header for every kind of datagram, the registry of kinds, and the sizes. No cryptography here.
//!
//! ```text
//! offset  size  field (big-endian)                 authenticated  encrypted
//!      0     1  version: 2                              yes
//!      1     1  kind (see Kind)                         yes
//!      2     1  flags: ACK_NOW on a reliable line, else 0  yes
//!      3    24  nonce, random                           yes
//!     27     8  session: random, per run                yes
//!     35     8  session start, ms since 1970            yes
//!     43     8  sequence                                yes
//!     51     8  sent at, ms since 1970                  yes
//!     59    16  to: the IP sent to (IPv4 as ::ffff:a.b.c.d)  yes
//!     75     2  to: the port sent to                    yes
//!     77     n  the body (a line, for a line)           yes            yes
//!   77+n    16  Poly1305 tag
//! ```
//!
//! Every kind has this header, so a receiver authenticates a datagram of a
//! kind it does not know and can ignore it as what it is (a newer udpchat's),
//! instead of blaming the secret. Whatever a kind needs beyond the header
//! goes in its encrypted body. docs/PROTOCOL.md states the receiver's rules.

// The plain build uses `looks_sealed` alone; the secured one all of it.
#![cfg_attr(not(feature = "secure"), allow(dead_code))]

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The format's version, the first byte of every sealed datagram.
pub(crate) const VERSION: u8 = 2;

/// First bytes that mark a secured datagram of some version: ASCII control
/// characters that no line of text starts with (tab is 9, beyond them).
pub(crate) const SECURED_VERSIONS: std::ops::RangeInclusive<u8> = 1..=8;

pub(crate) const NONCE_LEN: usize = 24;
const AT_KIND: usize = 1;
const AT_FLAGS: usize = 2;
const AT_NONCE: usize = 3;
const AT_SESSION: usize = AT_NONCE + NONCE_LEN;
const AT_STARTED: usize = AT_SESSION + 8;
const AT_SEQUENCE: usize = AT_STARTED + 8;
const AT_SENT: usize = AT_SEQUENCE + 8;
const AT_TO: usize = AT_SENT + 8;
/// Everything before the body: the associated data.
pub(crate) const HEADER_LEN: usize = AT_TO + 18;
pub(crate) const TAG_LEN: usize = 16;
/// What sealing adds to a body.
pub(crate) const OVERHEAD: usize = HEADER_LEN + TAG_LEN;

/// The one flag defined, on a reliable line (kind 3): acknowledge it at
/// once, for its sender may send nothing more for a while. Without it a
/// receiver may acknowledge the line with later ones (see
/// `reliable::deliveries`).
pub(crate) const ACK_NOW: u8 = 0x01;

/// The highest sequence number a datagram may carry: 2^53 − 1, which no
/// chat reaches (285 years at a million lines a second), and which a JSON
/// reader's double still holds exactly.
pub(crate) const MAX_SEQUENCE: u64 = (1 << 53) - 1;

/// A datagram's kind: what its body is, and what its sequence number counts.
/// The registry is in docs/PROTOCOL.md; a receiver ignores (and counts) a
/// kind it does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kind(pub u8);

impl Kind {
    /// A line of text: the body is the line, the sequence its number in the
    /// session, from 0.
    pub const LINE: Kind = Kind(0);
    /// The end of the sender's input: no body; the sequence is the number
    /// of lines the session sent.
    pub const END: Kind = Kind(1);
    /// An acknowledgement of reliable lines (see `src/reliable/`): the body
    /// is an [`Ack`](crate::reliable::Ack); the sequence counts the
    /// acknowledging session's acknowledgements.
    pub const ACK: Kind = Kind(2);
    /// A line sent reliably: the body is the sender's base, 8 bytes, then
    /// the line; the sequence is its number in the session, as for a line.
    pub const RELIABLE_LINE: Kind = Kind(3);
    /// The end of a reliable sender's input: the body is its base; the
    /// sequence is the number of lines, as for an end.
    pub const RELIABLE_END: Kind = Kind(4);

    /// Whether this udpchat knows what to do with the kind.
    pub fn is_known(self) -> bool {
        self.0 <= Kind::RELIABLE_END.0
    }
}

/// The fields of a sealed datagram's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub kind: Kind,
    /// [`ACK_NOW`] on a reliable line; no other bit is defined: sent as
    /// 0, and bits a receiver does not know are ignored.
    pub flags: u8,
    pub nonce: [u8; NONCE_LEN],
    pub session: u64,
    /// When the session began, ms since 1970 by the sender's clock.
    pub started: u64,
    pub sequence: u64,
    /// When the datagram was sealed, ms since 1970 by the sender's clock.
    pub sent: u64,
    /// The address the sender sent it to, IPv4 as IPv4 (no IPv6 zone).
    pub to: SocketAddr,
}

impl Header {
    pub fn write(&self, out: &mut [u8]) {
        out[0] = VERSION;
        out[AT_KIND] = self.kind.0;
        out[AT_FLAGS] = self.flags;
        out[AT_NONCE..AT_SESSION].copy_from_slice(&self.nonce);
        out[AT_SESSION..AT_STARTED].copy_from_slice(&self.session.to_be_bytes());
        out[AT_STARTED..AT_SEQUENCE].copy_from_slice(&self.started.to_be_bytes());
        out[AT_SEQUENCE..AT_SENT].copy_from_slice(&self.sequence.to_be_bytes());
        out[AT_SENT..AT_TO].copy_from_slice(&self.sent.to_be_bytes());
        out[AT_TO..AT_TO + 16].copy_from_slice(&ipv6_form(self.to.ip()).octets());
        out[AT_TO + 16..HEADER_LEN].copy_from_slice(&self.to.port().to_be_bytes());
    }

    /// The header of a datagram of this version, at least [`OVERHEAD`] long.
    pub fn read(bytes: &[u8]) -> Option<Header> {
        if bytes.len() < OVERHEAD || bytes[0] != VERSION {
            return None;
        }
        let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let ip: [u8; 16] = bytes[AT_TO..AT_TO + 16].try_into().expect("16 bytes");
        let port = u16::from_be_bytes([bytes[AT_TO + 16], bytes[AT_TO + 17]]);
        Some(Header {
            kind: Kind(bytes[AT_KIND]),
            flags: bytes[AT_FLAGS],
            nonce: bytes[AT_NONCE..AT_SESSION].try_into().expect("24 bytes"),
            session: u64_at(AT_SESSION),
            started: u64_at(AT_STARTED),
            sequence: u64_at(AT_SEQUENCE),
            sent: u64_at(AT_SENT),
            to: SocketAddr::new(Ipv6Addr::from(ip).to_canonical(), port),
        })
    }
}

/// An IP address as the `to` field holds it: IPv6, with IPv4 mapped.
fn ipv6_form(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// What a datagram that is not of this version is, by its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Foreign {
    /// Version 2, but too short to hold a header and a tag.
    CutShort,
    /// Another version of the secured format (1 is the older udpchat's).
    Version(u8),
    /// Not sealed at all: plain text, from a plain udpchat, `nc` or anything else.
    Plain,
}

/// Why `datagram` is not a datagram of this version, or `None` if it may be one.
pub(crate) fn foreign(datagram: &[u8]) -> Option<Foreign> {
    match datagram.first() {
        Some(&VERSION) if datagram.len() >= OVERHEAD => None,
        Some(&VERSION) => Some(Foreign::CutShort),
        Some(version) if SECURED_VERSIONS.contains(version) => Some(Foreign::Version(*version)),
        _ => Some(Foreign::Plain),
    }
}

/// Whether `datagram` looks like a secured udpchat's, for a chat without a
/// secret to say why its peer's lines are noise: a datagram of this version
/// as far as its first byte and length tell, or version 1's (an older
/// udpchat's, at least its 74-byte empty line). It proves nothing (only
/// opening it with the secret does), and a plain line can pass it (one that
/// starts with the byte 1 or 2 and is long enough), so it only ever leads to
/// a hint, never to a datagram not shown. It is here, beside the layout,
/// because a build without the `secure` feature tells it too.
#[cfg_attr(feature = "secure", allow(dead_code))] // the plain receiver's hint
pub(crate) fn looks_sealed(datagram: &[u8]) -> bool {
    const VERSION_1_SMALLEST: usize = 58 + TAG_LEN;
    match foreign(datagram) {
        None => true,
        Some(Foreign::Version(1)) => datagram.len() >= VERSION_1_SMALLEST,
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_reads_back_as_written_with_ipv4_kept_as_ipv4() {
        for to in ["192.168.1.6:2323", "[fe80::1]:9", "[ff12::2323]:2323"] {
            let header = Header {
                kind: Kind(7),
                flags: 0x80,
                nonce: [9; NONCE_LEN],
                session: 1,
                started: 2,
                sequence: 3,
                sent: 4,
                to: to.parse().unwrap(),
            };
            let mut bytes = vec![0; OVERHEAD];
            header.write(&mut bytes);
            assert_eq!(Header::read(&bytes), Some(header), "{to}");
            assert!(looks_sealed(&bytes));
            assert!(!looks_sealed(&bytes[..OVERHEAD - 1]));
        }
        assert_eq!((HEADER_LEN, OVERHEAD), (77, 93));
    }

    #[test]
    fn tells_other_versions_and_plain_text_by_the_first_byte() {
        assert_eq!(foreign(b""), Some(Foreign::Plain));
        assert_eq!(foreign(b"hello"), Some(Foreign::Plain));
        assert_eq!(foreign(b"\thello"), Some(Foreign::Plain));
        assert_eq!(foreign(&[1; 74]), Some(Foreign::Version(1)));
        assert_eq!(foreign(&[3; 200]), Some(Foreign::Version(3)));
        assert_eq!(foreign(&[2; 92]), Some(Foreign::CutShort));
        assert_eq!(foreign(&[2; 93]), None);
    }
}
