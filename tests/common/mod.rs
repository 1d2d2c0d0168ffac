//! Helpers shared by the integration tests: loopback sockets, bounded waits, test data; the real binary, a terminal, namespaces and a relay.
#![allow(dead_code, unused_imports)] // each test file uses its own subset

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

mod netns;
#[cfg(feature = "cli")]
mod process;
pub mod relay;
#[cfg(feature = "cli")]
pub mod sealing;
#[cfg(feature = "cli")]
mod tmux;

pub use netns::{Netns, two_hosts, wait_until_up};
#[cfg(feature = "cli")]
pub use process::*;
#[cfg(feature = "cli")]
pub use tmux::{Pane, Tmux};

/// Whether this is a CI run: `CI` set to anything but empty, `0` or `false`
/// (CI services set `CI=true`, and so does `.ci/run`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|ci| !matches!(ci.as_str(), "" | "0" | "false"))
}

/// The one place that decides what a test does when this machine cannot run
/// its real check (no tmux, not root, no `ip netns`, no `tc`, no `nft`, no ::1, no
/// Wine...): in CI, whose setup (`.ci/run`) provides all of them, a missing
/// one is a broken setup and the test fails, saying `why`, so that a green CI
/// run means every test ran; elsewhere it prints `skipped: WHY` and the
/// caller returns at once, without checking anything.
#[track_caller]
pub fn skip_or_fail(why: impl std::fmt::Display) {
    if in_ci() {
        panic!("cannot run this test's check, and CI must: {why}");
    }
    eprintln!("skipped: {why}");
}

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

/// Receives one datagram, failing the test after [`TIMEOUT`]. A signal to
/// the test process (a child's SIGCHLD handler, tmux's) may cut a wait
/// short with `EINTR`: the wait goes on, to the same deadline.
pub fn recv(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0; 65_536];
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        match socket.recv_from(&mut buf) {
            Ok((len, from)) => {
                buf.truncate(len);
                socket.set_read_timeout(Some(TIMEOUT)).unwrap();
                return (buf, from);
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                assert!(!left.is_zero(), "no datagram within {TIMEOUT:?}");
                socket.set_read_timeout(Some(left)).unwrap();
            }
            Err(err) => panic!("a datagram within the timeout: {err}"),
        }
    }
}

/// A UDP socket on ::1 with a port the system picks, to play a host other than
/// a peer on 127.0.0.1 (only 127.0.0.1 and ::1 may carry test traffic, and the
/// two are different IP addresses). `None`, through [`skip_or_fail`], where
/// there is no IPv6 loopback: the test then returns.
pub fn ipv6_loopback_socket() -> Option<UdpSocket> {
    match UdpSocket::bind("[::1]:0") {
        Ok(socket) => {
            socket.set_read_timeout(Some(TIMEOUT)).unwrap();
            Some(socket)
        }
        Err(err) => {
            skip_or_fail(format_args!("no IPv6 loopback (cannot bind [::1]:0: {err})"));
            None
        }
    }
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
