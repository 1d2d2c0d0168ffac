//! Hooks for the fuzz targets (feature `fuzzing`): the receiver's per-datagram path, without a socket.
//!
//! Not part of the API: it exists so that `fuzz/` drives the very code the
//! receiver runs, and may change with it.

use std::net::SocketAddr;
use std::time::SystemTime;

pub use crate::filter::Verdict;
use crate::filter::{Heard, SourceFilter};
use crate::net::canonical;
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
    let verdict = crate::receiver::present(
        &filter,
        &style,
        &mut Opener::Plain,
        &mut datagram,
        &canonical(from),
        SystemTime::now(),
        &mut out,
    );
    (verdict, out)
}

/// True for a character that must never reach a terminal from a peer.
pub fn is_unsafe_char(c: char) -> bool {
    crate::display::is_unsafe_char(c)
}
