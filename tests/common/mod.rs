//! Helpers shared by the integration tests: loopback sockets, bounded waits, test data; the real binary, a terminal and namespaces.
#![allow(dead_code, unused_imports)] // each test file uses its own subset

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

mod netns;
#[cfg(feature = "cli")]
mod process;
#[cfg(feature = "cli")]
mod tmux;

pub use netns::Netns;
#[cfg(feature = "cli")]
pub use process::*;
#[cfg(feature = "cli")]
pub use tmux::{Pane, Tmux};

/// Upper bound for anything a test waits for; only reached when something is broken.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A UDP socket on 127.0.0.1 with a port the system picks. Its receives time
/// out, so a missing datagram fails the test instead of hanging it.
pub fn loopback_socket() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback socket");
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    socket
}

/// A loopback port that was free a moment ago (bound, then released), for a
/// process that must be told its port before it starts.
pub fn free_port() -> u16 {
    loopback_socket().local_addr().unwrap().port()
}

/// Receives one datagram, failing the test after [`TIMEOUT`].
pub fn recv(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0; 65_536];
    let (len, from) = socket.recv_from(&mut buf).expect("a datagram within the timeout");
    buf.truncate(len);
    (buf, from)
}

/// A UDP socket on ::1 with a port the system picks, to play a host other than
/// a peer on 127.0.0.1 (only 127.0.0.1 and ::1 may carry test traffic, and the
/// two are different IP addresses). `None` where there is no IPv6 loopback.
pub fn ipv6_loopback_socket() -> Option<UdpSocket> {
    let socket = UdpSocket::bind("[::1]:0").ok()?;
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    Some(socket)
}

/// A small, fast pseudo-random generator (xorshift64*) for test data. Its
/// seed is printed, and `UDPCHAT_TEST_SEED` replays a failing run.
pub struct Rng(u64);

impl Rng {
    pub fn from_env_or_clock() -> Rng {
        let seed = std::env::var("UDPCHAT_TEST_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or_else(|| {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                now.unwrap().as_nanos() as u64 | 1
            });
        eprintln!("random seed: UDPCHAT_TEST_SEED={seed}");
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    pub fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes()[..chunk.len()]);
        }
    }
}

/// A number no other call in this process returns.
pub fn unique_number() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
