//! A UDP relay on loopback between a sender and a receiver that drops, duplicates and holds back datagrams as a seeded `Rng` decides.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Rng, TIMEOUT, loopback_socket};

/// What the relay does to the datagrams of one direction, in percent each;
/// the rest pass as they came.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mangling {
    /// Dropped.
    pub drop: usize,
    /// Passed on twice.
    pub duplicate: usize,
    /// Held back behind the next one to three datagrams of its direction
    /// (or until the relay has been idle for [`IDLE`]), so they overtake it.
    pub hold_back: usize,
}

impl Mangling {
    /// Every datagram passes as it came.
    pub const NONE: Mangling = Mangling {
        drop: 0,
        duplicate: 0,
        hold_back: 0,
    };
}

/// What the relay did to the datagrams of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub arrived: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub held_back: u64,
}

/// What the relay did: to the sender's datagrams (`forth`, to the receiver)
/// and to the receiver's (`back`, its acknowledgements).
#[derive(Clone, Copy, Debug, Default)]
pub struct Carried {
    pub forth: Counts,
    pub back: Counts,
}

/// How long the relay waits for another datagram before it lets go of the
/// ones it holds back: the last datagrams of a burst have none behind them.
pub const IDLE: Duration = Duration::from_millis(20);

/// However a test goes, a relay stops after this long or this many
/// datagrams, so that a broken chat cannot keep it busy forever.
const LONGEST: Duration = Duration::from_secs(6 * TIMEOUT.as_secs());
const MOST: u64 = 1_000_000;

/// A relay on a loopback port: whatever reaches it from the receiver goes to
/// the sender (the first other address it heard from), and whatever comes
/// from anyone else goes to the receiver. A secured chat on either side
/// needs `--reachable-at` [`addr`](Relay::addr), since the datagrams it gets
/// name the relay as where they were sent.
pub struct Relay {
    socket: UdpSocket,
    stop: Arc<AtomicBool>,
    running: Option<JoinHandle<Carried>>,
}

impl Relay {
    /// Binds the relay's socket, so its address can be given to the chats
    /// before it [`run`](Relay::run)s.
    pub fn bind() -> Relay {
        let socket = loopback_socket();
        // Bursts of a thousand datagrams must not be dropped here, only as
        // the Rng says.
        socket2::SockRef::from(&socket)
            .set_recv_buffer_size(4 << 20)
            .unwrap();
        Relay {
            socket,
            stop: Arc::new(AtomicBool::new(false)),
            running: None,
        }
    }

    /// Where the chats reach the relay.
    pub fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    /// Starts relaying between `receiver` and whoever else speaks, treating
    /// the datagrams to the receiver as `forth` says and those from it as
    /// `back` says, each decision drawn from `rng` in the order the
    /// datagrams arrive.
    pub fn run(&mut self, receiver: SocketAddr, forth: Mangling, back: Mangling, mut rng: Rng) {
        assert!(self.running.is_none(), "the relay runs already");
        let socket = self.socket.try_clone().unwrap();
        socket.set_read_timeout(Some(IDLE)).unwrap();
        let stop = self.stop.clone();
        self.running = Some(std::thread::spawn(move || {
            let started = Instant::now();
            let mut carried = Carried::default();
            let mut sender = None;
            // Held-back datagrams: where to, whether they go forth, and how
            // many more datagrams of their direction they wait for.
            let mut held: Vec<(Vec<u8>, SocketAddr, bool, usize)> = Vec::new();
            let mut buffer = vec![0; 65_536];
            let mut seen = 0;
            while !stop.load(Ordering::Relaxed) && started.elapsed() < LONGEST && seen < MOST {
                let (len, from) = match socket.recv_from(&mut buffer) {
                    Ok(got) => got,
                    Err(_) => {
                        // Idle (or interrupted): let go of what is held.
                        for (datagram, to, _, _) in held.drain(..) {
                            let _ = socket.send_to(&datagram, to);
                        }
                        continue;
                    }
                };
                seen += 1;
                let forth_bound = from != receiver;
                let to = if forth_bound {
                    sender = Some(from);
                    receiver
                } else {
                    match sender {
                        Some(sender) => sender,
                        None => continue, // nobody to carry it to yet
                    }
                };
                let (mangling, counts) = if forth_bound {
                    (forth, &mut carried.forth)
                } else {
                    (back, &mut carried.back)
                };
                counts.arrived += 1;
                let datagram = &buffer[..len];
                let roll = rng.below(100);
                if roll < mangling.drop {
                    counts.dropped += 1;
                } else if roll < mangling.drop + mangling.duplicate {
                    counts.duplicated += 1;
                    let _ = socket.send_to(datagram, to);
                    let _ = socket.send_to(datagram, to);
                } else if roll < mangling.drop + mangling.duplicate + mangling.hold_back {
                    counts.held_back += 1;
                    held.push((datagram.to_vec(), to, forth_bound, 1 + rng.below(3)));
                    continue;
                } else {
                    let _ = socket.send_to(datagram, to);
                }
                // One more datagram of this direction went by: those held
                // behind it long enough go now, after it.
                for wait in held.iter_mut().filter(|held| held.2 == forth_bound) {
                    wait.3 -= 1;
                }
                while let Some(at) = held.iter().position(|held| held.3 == 0) {
                    let (datagram, to, _, _) = held.remove(at);
                    let _ = socket.send_to(&datagram, to);
                }
            }
            carried
        }));
    }

    /// Stops the relay and says what it did.
    pub fn finish(mut self) -> Carried {
        self.stop.store(true, Ordering::Relaxed);
        self.running
            .take()
            .expect("the relay runs")
            .join()
            .expect("the relay thread")
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(running) = self.running.take() {
            let _ = running.join();
        }
    }
}
