//! Hooks for the fuzz targets (feature `fuzzing`): the receiver's per-datagram path and secured datagrams, without a socket.
//!
//! Not part of the API: it exists so that `fuzz/` drives the very code the
//! receiver runs, and may change with it.

use std::net::SocketAddr;
use std::time::SystemTime;

use crate::net::canonical;
use crate::receive::Outcome;
pub use crate::receive::filter::Verdict;
use crate::receive::filter::{Heard, SourceFilter};
use crate::wire::Opener;

/// What a chat with `peer` makes of `datagram` from `from`: the verdict, and
/// the text it appends to its output.
pub fn present(
    datagram: &[u8],
    peer: SocketAddr,
    from: SocketAddr,
    accept_any: bool,
    show_sender: bool,
    sanitize: bool,
) -> (Verdict, Vec<u8>) {
    let filter = SourceFilter::new(Heard::Peers(vec![peer]), accept_any, show_sender);
    let style = crate::display::Style {
        sanitize,
        ..Default::default()
    };
    let mut datagram = datagram.to_vec();
    let mut out = Vec::new();
    let from = canonical(from);
    let outcome = crate::receive::present(
        &filter,
        &style,
        &mut Opener::Plain,
        &mut crate::receive::events::EventObjects::default(),
        &mut datagram,
        &from,
        SystemTime::now(),
        &mut out,
    );
    let verdict = match outcome {
        Outcome::Judged(verdict) => verdict,
        Outcome::Shown => filter.judge(&from),
        Outcome::Nothing | Outcome::Refused => unreachable!("plain mode opens every datagram"),
    };
    (verdict, out)
}

/// True for a character that must never reach a terminal from a peer.
pub fn is_unsafe_char(c: char) -> bool {
    crate::display::is_unsafe_char(c)
}

/// The secret the fuzz targets seal and open with.
fn fuzz_secret() -> crate::Secret {
    crate::Secret::from_key([0x5a; 32])
}

/// Where the fuzz targets' datagrams are sent.
fn fuzz_to() -> SocketAddr {
    SocketAddr::from(([192, 168, 1, 5], 2323))
}

/// Seals `line` as a sender holding the fuzzing key does, in a session of its own.
pub fn seal(line: &[u8]) -> Vec<u8> {
    let mut sealer = crate::wire::sealed::Sealer::new(&fuzz_secret()).expect("random bytes");
    let number = sealer.next_line();
    sealer
        .seal(crate::wire::format::Kind::LINE, number, line, &fuzz_to())
        .expect("random bytes")
        .to_vec()
}

/// Opens `datagram` as a receiver holding the fuzzing key does: the line,
/// if it is one that opens and is new.
pub fn open(datagram: &[u8]) -> Option<Vec<u8>> {
    let recipient = crate::wire::addressed::Recipient::Group(fuzz_to());
    let mut opener = crate::wire::open::Opener::new(&fuzz_secret(), None, recipient);
    let mut datagram = datagram.to_vec();
    let from = SocketAddr::from(([192, 168, 1, 6], 2323));
    match opener.open(&mut datagram, &from, SystemTime::now()) {
        crate::wire::opened::Opened::Line(line, _) => Some(line.to_vec()),
        crate::wire::opened::Opened::Reliable(incoming) => incoming.line.map(<[u8]>::to_vec),
        crate::wire::opened::Opened::Nothing(_) | crate::wire::opened::Opened::Refused => None,
    }
}

/// `count` lines of one session, sealed as a sender holding the fuzzing key
/// does: for measuring what an accepted datagram costs beside a refused one.
pub fn seal_lines(line: &[u8], count: usize) -> Vec<Vec<u8>> {
    let mut sealer = crate::wire::sealed::Sealer::new(&fuzz_secret()).expect("random bytes");
    (0..count)
        .map(|_| {
            let number = sealer.next_line();
            sealer
                .seal(crate::wire::format::Kind::LINE, number, line, &fuzz_to())
                .expect("random bytes")
                .to_vec()
        })
        .collect()
}

/// A receiver holding the fuzzing key, kept across datagrams as a chat keeps it.
pub struct Receiver {
    opener: crate::wire::open::Opener,
}

impl Receiver {
    pub fn new() -> Receiver {
        let recipient = crate::wire::addressed::Recipient::Group(fuzz_to());
        Receiver {
            opener: crate::wire::open::Opener::new(&fuzz_secret(), None, recipient),
        }
    }

    /// Opens `datagram` in place, from `from`: whether its line is to be shown.
    pub fn open(&mut self, datagram: &mut [u8], from: &SocketAddr) -> bool {
        matches!(
            self.opener.open(datagram, from, SystemTime::now()),
            crate::wire::opened::Opened::Line(..)
        )
    }
}

impl Default for Receiver {
    fn default() -> Receiver {
        Receiver::new()
    }
}
