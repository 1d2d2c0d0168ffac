//! What a secured receiver spends on a datagram it refuses, beside one it shows: nanoseconds per datagram, small and 64 KiB.
//!
//! Run with `cargo run --release --example refused --features fuzzing`. It
//! drives the receiver's opener (through the `fuzzing` hooks, the code the
//! receiver runs) over datagrams in memory, no socket: the cost of the
//! format's checks alone, which a flood of forgeries makes a receiver pay.
//! The figures are in docs/PERFORMANCE.md.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

use udpchat::fuzzing::{Receiver, seal_lines};

/// Nanoseconds per call of `open` on each of `datagrams`, best of 5 runs.
fn ns_per_datagram(datagrams: &[Vec<u8>], rounds: usize) -> f64 {
    let from: SocketAddr = "192.168.1.7:2323".parse().unwrap();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let mut receiver = Receiver::new();
        let mut copies: Vec<Vec<u8>> = datagrams.to_vec();
        let started = Instant::now();
        for _ in 0..rounds {
            for (copy, original) in copies.iter_mut().zip(datagrams) {
                // Opening decrypts in place: each round opens a fresh copy.
                copy.copy_from_slice(original);
                black_box(receiver.open(copy, &from));
            }
        }
        let elapsed = started.elapsed().as_nanos() as f64;
        best = best.min(elapsed / (rounds * datagrams.len()) as f64);
    }
    best
}

/// The cost of copying the datagrams back alone, to subtract.
fn ns_per_copy(datagrams: &[Vec<u8>], rounds: usize) -> f64 {
    let mut copies: Vec<Vec<u8>> = datagrams.to_vec();
    let started = Instant::now();
    for _ in 0..rounds {
        for (copy, original) in copies.iter_mut().zip(datagrams) {
            copy.copy_from_slice(original);
            black_box(&copy);
        }
    }
    started.elapsed().as_nanos() as f64 / (rounds * datagrams.len()) as f64
}

fn main() {
    println!("| datagram | bytes | ns per datagram |");
    println!("| --- | ---: | ---: |");
    for (len, rounds) in [(60usize, 2000usize), (65_000, 4)] {
        let line = vec![b'x'; len];
        let accepted = seal_lines(&line, 1000);
        let bytes = accepted[0].len();
        // The same datagrams with one bit of the tag changed: sealed with
        // another secret, or forged, as far as the receiver can tell.
        let forged: Vec<Vec<u8>> = accepted
            .iter()
            .map(|datagram| {
                let mut forged = datagram.clone();
                *forged.last_mut().unwrap() ^= 1;
                forged
            })
            .collect();
        // Plain text: refused by its first byte, before any cryptography.
        let plain: Vec<Vec<u8>> = vec![line.clone(); 1000];
        // The first datagram again and again: a replay, opened and refused
        // by the window.
        let replayed: Vec<Vec<u8>> = vec![accepted[0].clone(); 1000];
        for (what, datagrams) in [
            ("accepted (a new line, shown)", &accepted),
            ("refused: not authentic (forged, another secret)", &forged),
            ("refused: a replay (opens, then the window)", &replayed),
            ("refused: not sealed (plain text)", &plain),
        ] {
            // A replay of a line shown first: the receiver must have seen it.
            let rounds = if what.starts_with("accepted") { 1 } else { rounds };
            let cost = ns_per_datagram(datagrams, rounds) - ns_per_copy(datagrams, rounds);
            let size = if what.contains("plain") { len } else { bytes };
            println!("| {what} | {size} | {cost:.0} |");
        }
    }
}
