//! Sealing and opening secured datagrams (format 2, see `format.rs`) with XChaCha20-Poly1305; the sending side's session.
//!
//! The header is the associated data and the body is encrypted: a datagram
//! opens only whole, unchanged, and under the same key. What a receiver then
//! believes of it is `open.rs`'s business.

use std::io;
use std::net::SocketAddr;
use std::time::SystemTime;

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};

use crate::Secret;
use crate::wire::format::{Foreign, HEADER_LEN, Header, Kind, NONCE_LEN, TAG_LEN, foreign};

/// Seals `body` under `header` into `out`, which it replaces: the whole datagram.
pub(crate) fn seal_into(cipher: &XChaCha20Poly1305, header: &Header, body: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.resize(HEADER_LEN + body.len(), 0);
    header.write(&mut out[..HEADER_LEN]);
    out[HEADER_LEN..].copy_from_slice(body);
    let (aad, text) = out.split_at_mut(HEADER_LEN);
    let tag = cipher
        .encrypt_inout_detached(&XNonce::from(header.nonce), aad, text.into())
        .expect("a body fits in a datagram, far below the cipher's limit");
    out.extend_from_slice(&tag);
}

/// Why a datagram did not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotOpened {
    /// It is not a datagram of this version, as its first byte says.
    Foreign(Foreign),
    /// It is one, but does not authenticate: another key, or changed on the way.
    Unauthentic,
}

/// Opens `datagram` in place: its header and body, if it authenticates.
pub(crate) fn open_in_place<'a>(
    cipher: &XChaCha20Poly1305,
    datagram: &'a mut [u8],
) -> Result<(Header, &'a mut [u8]), NotOpened> {
    if let Some(foreign) = foreign(datagram) {
        return Err(NotOpened::Foreign(foreign));
    }
    let header = Header::read(datagram).ok_or(NotOpened::Unauthentic)?;
    let (rest, tag) = datagram.split_at_mut(datagram.len() - TAG_LEN);
    let tag = Tag::try_from(&tag[..]).map_err(|_| NotOpened::Unauthentic)?;
    let (aad, text) = rest.split_at_mut(HEADER_LEN);
    cipher
        .decrypt_inout_detached(&XNonce::from(header.nonce), aad, text.into(), &tag)
        .map_err(|_| NotOpened::Unauthentic)?;
    Ok((header, text))
}

pub(crate) fn cipher(secret: &Secret) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(secret.key().into())
}

/// Milliseconds since 1970 by this host's clock.
pub(crate) fn millis(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis().try_into().unwrap_or(u64::MAX))
}

/// Nonces taken from the operating system's generator, [`NONCES_PER_FILL`]
/// at a time, so that a line costs no system call of its own for one.
struct Nonces {
    buffer: zeroize::Zeroizing<Vec<u8>>,
    used: usize,
}

const NONCES_PER_FILL: usize = 64;

impl Nonces {
    fn new() -> Nonces {
        let len = NONCE_LEN * NONCES_PER_FILL;
        Nonces {
            buffer: zeroize::Zeroizing::new(vec![0; len]),
            used: len,
        }
    }

    fn next(&mut self) -> io::Result<[u8; NONCE_LEN]> {
        if self.used == self.buffer.len() {
            getrandom::fill(&mut self.buffer).map_err(io::Error::from)?;
            self.used = 0;
        }
        let nonce = self.buffer[self.used..self.used + NONCE_LEN]
            .try_into()
            .expect("24 bytes");
        self.used += NONCE_LEN;
        Ok(nonce)
    }
}

/// The sending side: one session, its lines numbered from 0.
pub(crate) struct Sealer {
    cipher: XChaCha20Poly1305,
    session: u64,
    started: u64,
    /// The number the next line takes; so also the number of lines numbered.
    next_line: u64,
    nonces: Nonces,
    datagram: Vec<u8>,
}

impl Sealer {
    pub fn new(secret: &Secret) -> io::Result<Sealer> {
        Ok(Sealer {
            cipher: cipher(secret),
            session: getrandom::u64().map_err(io::Error::from)?,
            started: millis(SystemTime::now()),
            next_line: 0,
            nonces: Nonces::new(),
            datagram: Vec::new(),
        })
    }

    /// A sealer for the same session, with nonces and a buffer of its own,
    /// for another thread: the resend thread, or the receiver's
    /// acknowledgements. Its `next_line` is not shared: only the sender
    /// thread numbers lines.
    pub fn twin(&self) -> Sealer {
        Sealer {
            cipher: self.cipher.clone(),
            session: self.session,
            started: self.started,
            next_line: 0,
            nonces: Nonces::new(),
            datagram: Vec::new(),
        }
    }

    /// This sender's session: a receiver that sees it come back knows the
    /// datagram for its own.
    pub fn session(&self) -> u64 {
        self.session
    }

    /// Takes the next line's number. A number is used once, sent or not: a
    /// receiver counts a line that could not be sent as lost, which it is.
    pub fn next_line(&mut self) -> u64 {
        let number = self.next_line;
        self.next_line = self.next_line.saturating_add(1);
        number
    }

    /// The datagram of `kind` numbered `sequence`, with `body`, for `to`:
    /// sealed now, with a fresh nonce.
    pub fn seal(&mut self, kind: Kind, sequence: u64, body: &[u8], to: &SocketAddr) -> io::Result<&[u8]> {
        self.seal_flagged(kind, 0, sequence, body, to)
    }

    /// The same with header `flags`. Every kind goes through here.
    pub fn seal_flagged(
        &mut self,
        kind: Kind,
        flags: u8,
        sequence: u64,
        body: &[u8],
        to: &SocketAddr,
    ) -> io::Result<&[u8]> {
        let header = Header {
            kind,
            flags,
            nonce: self.nonces.next()?,
            session: self.session,
            started: self.started,
            sequence,
            sent: millis(SystemTime::now()),
            to: *to,
        };
        seal_into(&self.cipher, &header, body, &mut self.datagram);
        Ok(&self.datagram)
    }

    /// The datagram that tells `to` no line follows, and how many there
    /// were, so that it can count the lines lost up to the last.
    pub fn end(&mut self, to: &SocketAddr) -> io::Result<&[u8]> {
        self.seal(Kind::END, self.next_line, &[], to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::format::OVERHEAD;

    /// docs/PROTOCOL.md's test vectors: key 00 01 .. 1f, nonce 40 41 .. 57,
    /// session 0x0123456789abcdef, started 1795515303000, sequence 7, sent
    /// 1795515303120 (2026-11-24T10:15:03.120Z), to 192.168.1.6:2323: the
    /// line "hello"; and with nonce 60 61 .. 77, sequence 8, sent
    /// 1795515304000, the end of input (8 lines).
    #[test]
    fn seals_the_protocol_documents_test_vectors() {
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let cipher = cipher(&Secret::from_key(key));
        let line = Header {
            kind: Kind::LINE,
            flags: 0,
            nonce: std::array::from_fn(|i| 0x40 + i as u8),
            session: 0x0123_4567_89ab_cdef,
            started: 1_795_515_303_000,
            sequence: 7,
            sent: 1_795_515_303_120,
            to: "192.168.1.6:2323".parse().unwrap(),
        };
        let end = Header {
            kind: Kind::END,
            nonce: std::array::from_fn(|i| 0x60 + i as u8),
            sequence: 8,
            sent: 1_795_515_304_000,
            ..line
        };
        for (header, body, expected) in [(line, &b"hello"[..], LINE_VECTOR), (end, &b""[..], END_VECTOR)] {
            let mut datagram = Vec::new();
            seal_into(&cipher, &header, body, &mut datagram);
            let hex: String = datagram.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex, expected);
            assert_eq!(datagram.len(), body.len() + OVERHEAD);
            let (opened, text) = open_in_place(&cipher, &mut datagram).unwrap();
            assert_eq!((opened, &text[..]), (header, body));
        }
    }

    /// docs/PROTOCOL.md's test vectors of reliable delivery, with the same
    /// key, session and start as above: the reliable line "hello" (kind 3,
    /// nonce 80 81 .. 97, sequence 7, sent 1795515305000, base 5); the
    /// reliable end (kind 4, nonce a0 a1 .. b7, sequence 8, sent
    /// 1795515306000, base 8); and the acknowledgement (kind 2, nonce c0 c1
    /// .. d7, its own session 0xfedcba9876543210, started 1795515302000,
    /// sequence 0, sent 1795515305050, to 192.168.1.5:2323) of session
    /// 0x0123456789abcdef: next 5, flags 0, one range [7, 8). The bodies
    /// are built by hand from the document's layouts, not by the code that
    /// sends them, so that the two are checked against each other (the
    /// acknowledgement's against `reliable::Ack`, both ways).
    #[test]
    fn seals_the_protocol_documents_reliable_test_vectors() {
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let cipher = cipher(&Secret::from_key(key));
        let line = Header {
            kind: Kind(3),
            flags: 0,
            nonce: std::array::from_fn(|i| 0x80 + i as u8),
            session: 0x0123_4567_89ab_cdef,
            started: 1_795_515_303_000,
            sequence: 7,
            sent: 1_795_515_305_000,
            to: "192.168.1.6:2323".parse().unwrap(),
        };
        let end = Header {
            kind: Kind(4),
            nonce: std::array::from_fn(|i| 0xa0 + i as u8),
            sequence: 8,
            sent: 1_795_515_306_000,
            ..line
        };
        let ack = Header {
            kind: Kind(2),
            flags: 0,
            nonce: std::array::from_fn(|i| 0xc0 + i as u8),
            session: 0xfedc_ba98_7654_3210,
            started: 1_795_515_302_000,
            sequence: 0,
            sent: 1_795_515_305_050,
            to: "192.168.1.5:2323".parse().unwrap(),
        };
        // `behind`: line 7 with base 5 is 2 behind; the end at 8 with base 8, 0.
        let line_body = [&2u16.to_be_bytes()[..], b"hello"].concat();
        let end_body = 0u16.to_be_bytes().to_vec();
        let ack_body = [
            &0x0123_4567_89ab_cdef_u64.to_be_bytes()[..],
            &5u64.to_be_bytes(),
            &[0, 1],
            &7u64.to_be_bytes(),
            &8u64.to_be_bytes(),
        ]
        .concat();
        assert_eq!(ack_body.len(), 18 + 16);
        // The code's acknowledgement is the document's, both ways.
        let ack_said = crate::reliable::Ack {
            session: 0x0123_4567_89ab_cdef,
            next: 5,
            ended: false,
            held: vec![(7, 8)],
        };
        let mut encoded = Vec::new();
        ack_said.encode(&mut encoded);
        assert_eq!(encoded, ack_body);
        assert_eq!(crate::reliable::Ack::decode(&ack_body), Some(ack_said));
        for (header, body, expected) in [
            (line, &line_body, RELIABLE_LINE_VECTOR),
            (end, &end_body, RELIABLE_END_VECTOR),
            (ack, &ack_body, ACK_VECTOR),
        ] {
            let mut datagram = Vec::new();
            seal_into(&cipher, &header, body, &mut datagram);
            let hex: String = datagram.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex, expected);
            assert_eq!(datagram.len(), body.len() + OVERHEAD);
            let (opened, text) = open_in_place(&cipher, &mut datagram).unwrap();
            assert_eq!((opened, &text[..]), (header, &body[..]));
        }
    }

    /// The sealed reliable line of [`seals_the_protocol_documents_reliable_test_vectors`], in hex.
    const RELIABLE_LINE_VECTOR: &str = "020300808182838485868788898a8b8c8d8e8f90919293949596970123456789abcdef000001a20d0d44580000000000000007000001a20d0d4c2800000000000000000000ffffc0a80106091342ec313c8bf82cd39c4068c3c4a31b35dcc05f1de4b32f";
    /// The sealed reliable end of [`seals_the_protocol_documents_reliable_test_vectors`], in hex.
    const RELIABLE_END_VECTOR: &str = "020400a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b70123456789abcdef000001a20d0d44580000000000000008000001a20d0d501000000000000000000000ffffc0a80106091345ec25ae590352db28bd9519bf53cd450a46";
    /// The sealed acknowledgement of [`seals_the_protocol_documents_reliable_test_vectors`], in hex.
    const ACK_VECTOR: &str = "020200c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7fedcba9876543210000001a20d0d40700000000000000000000001a20d0d4c5a00000000000000000000ffffc0a801050913f1bdcfb415bd587ce5c3daf754682db5a20c4b538cb8ba63581799ac6e67fdbbcd7e8c290db1689981f427a5b695ee690ba7";

    /// The sealed line of [`seals_the_protocol_documents_test_vectors`], in hex.
    const LINE_VECTOR: &str = "020000404142434445464748494a4b4c4d4e4f50515253545556570123456789abcdef000001a20d0d44580000000000000007000001a20d0d44d000000000000000000000ffffc0a801060913bc5c691cbf8b7bdeadc898b66a2ffc6830b332150c";
    /// The sealed end of [`seals_the_protocol_documents_test_vectors`], in hex.
    const END_VECTOR: &str = "020100606162636465666768696a6b6c6d6e6f70717273747576770123456789abcdef000001a20d0d44580000000000000008000001a20d0d484000000000000000000000ffffc0a80106091319694fdd4a4f50b0bc6884060448f46c";

    #[test]
    fn refuses_every_datagram_changed_by_one_bit_or_cut_short() {
        let cipher = cipher(&Secret::from_key([1; 32]));
        let mut sealer = Sealer::new(&Secret::from_key([1; 32])).unwrap();
        let to = "10.0.0.1:9".parse().unwrap();
        let datagram = sealer
            .seal(Kind::LINE, 0, b"pay 10 euros to alice", &to)
            .unwrap()
            .to_vec();
        assert!(open_in_place(&cipher, &mut datagram.clone()).is_ok());
        for bit in 0..datagram.len() * 8 {
            let mut changed = datagram.clone();
            changed[bit / 8] ^= 1 << (bit % 8);
            assert!(open_in_place(&cipher, &mut changed).is_err(), "bit {bit}");
        }
        for len in 0..datagram.len() {
            assert!(
                open_in_place(&cipher, &mut datagram[..len].to_vec()).is_err(),
                "{len} bytes"
            );
        }
        let other = self::cipher(&Secret::from_key([2; 32]));
        assert_eq!(
            open_in_place(&other, &mut datagram.clone()).unwrap_err(),
            NotOpened::Unauthentic
        );
    }

    #[test]
    fn numbers_each_line_once_and_ends_with_the_count() {
        let mut sealer = Sealer::new(&Secret::from_key([1; 32])).unwrap();
        assert_eq!((sealer.next_line(), sealer.next_line()), (0, 1));
        let cipher = cipher(&Secret::from_key([1; 32]));
        let to = "[::1]:9".parse().unwrap();
        let mut end = sealer.end(&to).unwrap().to_vec();
        let (header, body) = open_in_place(&cipher, &mut end).unwrap();
        assert_eq!(
            (header.kind, header.sequence, header.to, body.len()),
            (Kind::END, 2, to, 0)
        );
    }
}
