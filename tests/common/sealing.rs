//! Secured datagrams made by the tests themselves, from docs/PROTOCOL.md alone: any header, any kind, so that tests can send what udpchat never would (a clock off, a flood of sessions, a jump, a kind it does not know) with no test knob in udpchat.

use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::{SecretFile, unique_number};

/// Byte offsets of docs/PROTOCOL.md's layout, read by the tests' relays.
pub const AT_KIND: usize = 1;
pub const AT_SESSION: usize = 27;
pub const AT_SEQUENCE: usize = 43;
pub const HEADER_LEN: usize = 77;
pub const OVERHEAD: usize = 93;

/// Kinds: a line, the end of input.
pub const LINE: u8 = 0;
pub const END: u8 = 1;
/// Kinds of reliable delivery (`--reliable`): an acknowledgement, a line
/// that asks for one (its body `base`, then the line), the end of such input
/// (its body `base`).
pub const ACK: u8 = 2;
pub const RELIABLE_LINE: u8 = 3;
pub const RELIABLE_END: u8 = 4;

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
        let mut nonce = [0u8; 24];
        nonce[..8].copy_from_slice(&unique_number().to_be_bytes());
        nonce[8..16].copy_from_slice(&now_ms().to_be_bytes());
        nonce[16..20].copy_from_slice(&std::process::id().to_be_bytes());
        let ip = match fields.to.ip() {
            IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            IpAddr::V6(v6) => v6,
        };
        let mut out = vec![2, fields.kind, 0];
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
