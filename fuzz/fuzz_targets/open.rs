//! Fuzz target: opening secured datagrams. Nothing that was not sealed with the secret opens; what was, opens to itself.
//!
//! Run with `cargo +nightly fuzz run open` from the crate's root. The first
//! byte chooses: even, the rest is a datagram as anyone on the LAN could
//! send, which must be refused (and never panic); odd, the rest is a line,
//! sealed, which must open to the line, and then, with one byte changed at a
//! place the line's first bytes choose, must be refused. The unit tests in
//! `src/wire/sealed.rs` make the same checks on every `cargo test`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use udpchat::fuzzing::{open, seal};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        assert_eq!(open(rest), None, "a datagram nobody sealed opened");
        return;
    }
    let sealed = seal(rest);
    assert_eq!(open(&sealed).as_deref(), Some(rest));
    let at = rest.iter().take(4).fold(0usize, |at, &b| at * 256 + usize::from(b)) % sealed.len();
    let mut changed = sealed.clone();
    changed[at] ^= mode | 1;
    assert_eq!(open(&changed), None, "a changed datagram opened (byte {at})");
});
