//! Secured datagrams made by the tests themselves, from docs/PROTOCOL.md alone: any header, any kind, so that tests can send what udpchat never would (a clock off, a flood of sessions, a jump, a kind it does not know) with no test knob in udpchat.

use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::{SecretFile, unique_number};

/// Byte offsets of docs/PROTOCOL.md's layout, read by the tests' relays.
pub const AT_KIND: usize = 1;
pub const AT_FLAGS: usize = 2;
pub const AT_SESSION: usize = 27;
pub const AT_SEQUENCE: usize = 43;
pub const HEADER_LEN: usize = 77;
pub const OVERHEAD: usize = 93;

/// Kinds: a line, the end of input.
pub const LINE: u8 = 0;
pub const END: u8 = 1;
/// Kinds of reliable delivery (`--reliable`): an acknowledgement, a line
/// that asks for one (its body `behind`, then the line), the end of such
/// input (its body `behind`).
pub const ACK: u8 = 2;
pub const RELIABLE_LINE: u8 = 3;
pub const RELIABLE_END: u8 = 4;
/// The header flag of a reliable line that asks for its acknowledgement at once.
pub const ACK_NOW: u8 = 1;

/// A 32-byte key, and the secret file that holds it as udpchat writes one.
pub struct Key {
    cipher: XChaCha20Poly1305,
    pub file: SecretFile,
}

impl Key {
    /// A key of its own for each call.
    pub fn new() -> Key {
        let mut key = [0u8; 32];
        let seed = unique_number().wrapping_add(std::process::id() as u64) ^ now_ms();
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = (seed.rotate_left(i as u32 * 7) as u8) ^ (i as u8).wrapping_mul(37);
        }
        Key {
            cipher: XChaCha20Poly1305::new(&key.into()),
            file: SecretFile::new(&format!("udpchat1-{}\n", base32(&key)), 0o600),
        }
    }

    /// The datagram `fields` describe, sealed.
    pub fn seal(&self, fields: &Fields, body: &[u8]) -> Vec<u8> {
        self.seal_flagged(fields, 0, body)
    }

    /// The same with header `flags`.
    pub fn seal_flagged(&self, fields: &Fields, flags: u8, body: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        nonce[..8].copy_from_slice(&unique_number().to_be_bytes());
        nonce[8..16].copy_from_slice(&now_ms().to_be_bytes());
        nonce[16..20].copy_from_slice(&std::process::id().to_be_bytes());
        let ip = match fields.to.ip() {
            IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            IpAddr::V6(v6) => v6,
        };
        let mut out = vec![2, fields.kind, flags];
        out.extend_from_slice(&nonce);
        for field in [fields.session, fields.started, fields.sequence, fields.sent] {
            out.extend_from_slice(&field.to_be_bytes());
        }
        out.extend_from_slice(&ip.octets());
        out.extend_from_slice(&fields.to.port().to_be_bytes());
        assert_eq!(out.len(), HEADER_LEN);
        out.extend_from_slice(body);
        let (aad, text) = out.split_at_mut(HEADER_LEN);
        let tag = self
            .cipher
            .encrypt_inout_detached(&XNonce::from(nonce), aad, text.into())
            .unwrap();
        out.extend_from_slice(&tag);
        out
    }

    /// Line `sequence` of `session` (which began at `started`), with `body`,
    /// sent now, to `to`.
    pub fn line(&self, session: u64, started: u64, sequence: u64, to: SocketAddr, body: &str) -> Vec<u8> {
        let fields = Fields {
            kind: LINE,
            session,
            started,
            sequence,
            sent: now_ms(),
            to,
        };
        self.seal(&fields, body.as_bytes())
    }

    /// Reliable line `sequence` of `session` (begun at `started`), sent now
    /// to `to`, with `base` the lowest line its sender still resends: its
    /// body is `behind` (`sequence - base`, 2 bytes), then the line. With
    /// `ack_now` it asks for its acknowledgement at once.
    #[allow(clippy::too_many_arguments)]
    pub fn reliable_line(
        &self,
        session: u64,
        started: u64,
        sequence: u64,
        base: u64,
        to: SocketAddr,
        line: &str,
        ack_now: bool,
    ) -> Vec<u8> {
        let fields = Fields {
            kind: RELIABLE_LINE,
            session,
            started,
            sequence,
            sent: now_ms(),
            to,
        };
        let mut body = behind(sequence, base).to_vec();
        body.extend_from_slice(line.as_bytes());
        let flags = if ack_now { ACK_NOW } else { 0 };
        self.seal_flagged(&fields, flags, &body)
    }

    /// The end of `session`'s reliable input after `lines` lines, sent now
    /// to `to`; its body is `behind` (`lines - base`, 2 bytes).
    pub fn reliable_end(&self, session: u64, started: u64, lines: u64, base: u64, to: SocketAddr) -> Vec<u8> {
        let fields = Fields {
            kind: RELIABLE_END,
            session,
            started,
            sequence: lines,
            sent: now_ms(),
            to,
        };
        self.seal(&fields, &behind(lines, base))
    }

    /// The body of a datagram sealed with this key, or `None` if it does
    /// not open (another key, or changed on the way).
    pub fn open(&self, datagram: &[u8]) -> Option<Vec<u8>> {
        if datagram.len() < OVERHEAD {
            return None;
        }
        let (header, rest) = datagram.split_at(HEADER_LEN);
        let (text, tag) = rest.split_at(rest.len() - 16);
        let nonce = XNonce::try_from(&header[3..27]).ok()?;
        let mut body = text.to_vec();
        self.cipher
            .decrypt_inout_detached(&nonce, header, body.as_mut_slice().into(), tag.try_into().ok()?)
            .ok()?;
        Some(body)
    }

    /// Acknowledgement `sequence` of the chat whose session is `session`
    /// (begun at `started`), sent now to `to`, with `body` (see [`ack_body`]).
    pub fn ack(&self, session: u64, started: u64, sequence: u64, to: SocketAddr, body: &[u8]) -> Vec<u8> {
        let fields = Fields {
            kind: ACK,
            session,
            started,
            sequence,
            sent: now_ms(),
            to,
        };
        self.seal(&fields, body)
    }
}

/// An acknowledgement's body, as docs/PROTOCOL.md lays it out: the session
/// acknowledged, `next` (every line below it was written), whether the end
/// of input was taken too, and the ranges held above `next` (first
/// inclusive, end exclusive). Any values, sensible or not: the tests decide.
pub fn ack_body(acked: u64, next: u64, end_taken: bool, ranges: &[(u64, u64)]) -> Vec<u8> {
    let mut body = Vec::with_capacity(18 + 16 * ranges.len());
    body.extend_from_slice(&acked.to_be_bytes());
    body.extend_from_slice(&next.to_be_bytes());
    body.push(u8::from(end_taken));
    body.push(u8::try_from(ranges.len()).expect("at most 255 ranges"));
    for (first, end) in ranges {
        body.extend_from_slice(&first.to_be_bytes());
        body.extend_from_slice(&end.to_be_bytes());
    }
    body
}

/// The header's fields.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    pub kind: u8,
    pub session: u64,
    pub started: u64,
    pub sequence: u64,
    pub sent: u64,
    pub to: SocketAddr,
}

/// Milliseconds since 1970, by this host's clock.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A sealed datagram's sequence number, in the clear in its header.
pub fn sequence_of(datagram: &[u8]) -> u64 {
    u64::from_be_bytes(datagram[AT_SEQUENCE..AT_SEQUENCE + 8].try_into().unwrap())
}

/// A reliable datagram's `behind`: how far below its sequence the base is.
fn behind(sequence: u64, base: u64) -> [u8; 2] {
    u16::try_from(sequence - base)
        .expect("a base at most 1,024 behind")
        .to_be_bytes()
}

/// An acknowledgement's body, read: see [`ack_body`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub acked: u64,
    pub next: u64,
    pub end_taken: bool,
    pub ranges: Vec<(u64, u64)>,
}

/// Reads an acknowledgement's body, or `None` if it is not laid out as
/// docs/PROTOCOL.md says (its length must match its count of ranges).
pub fn read_ack(body: &[u8]) -> Option<Ack> {
    let number = |at: usize| u64::from_be_bytes(body[at..at + 8].try_into().unwrap());
    if body.len() < 18 || body.len() != 18 + 16 * usize::from(body[17]) {
        return None;
    }
    Some(Ack {
        acked: number(0),
        next: number(8),
        end_taken: body[16] & 1 == 1,
        ranges: (0..usize::from(body[17]))
            .map(|i| (number(18 + 16 * i), number(26 + 16 * i)))
            .collect(),
    })
}

/// A sealed datagram's session, in the clear in its header.
pub fn session_of(datagram: &[u8]) -> u64 {
    u64::from_be_bytes(datagram[AT_SESSION..AT_SESSION + 8].try_into().unwrap())
}

/// RFC 4648 base32, no padding.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut out, mut bits, mut count) = (String::new(), 0u64, 0);
    for &byte in bytes {
        bits = (bits << 8) | u64::from(byte);
        count += 8;
        while count >= 5 {
            count -= 5;
            out.push(ALPHABET[((bits >> count) & 31) as usize] as char);
        }
    }
    if count > 0 {
        out.push(ALPHABET[((bits << (5 - count)) & 31) as usize] as char);
    }
    out
}
