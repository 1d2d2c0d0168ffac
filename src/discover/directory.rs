//! The process's one browse for udpchats: a bounded table of what the LAN answered, which lookups, `--list` and room labels read.
//!
//! mdns-sd keeps one listener per service type and daemon, so this process
//! browses `_udpchat._udp` once, on a thread that blocks on the daemon's
//! events, for as long as anything wants it (an [`Interest`]); then it stops,
//! so that an idle udpchat sends no queries and wakes for none.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, warn};

use super::found::Found;
use super::mdns::{self, Event, Events};
use crate::Error;

/// At most this many udpchats are kept in the table (and listed); answers
/// about more are counted and dropped, so a responder that invents
/// thousands of services costs this table a bounded size.
pub(crate) const MAX_FOUND: usize = 1024;

/// At most this many addresses are known by name, for labels.
pub(crate) const MAX_LABELS: usize = 256;

/// The table of udpchats found, and who waits on it.
pub(crate) struct Directory {
    state: Mutex<State>,
    changed: Condvar,
    /// Who sent what, by name, for labels: written by the browse thread,
    /// read by receivers.
    labels: Arc<Labels>,
}

#[derive(Default)]
struct State {
    found: Vec<Found>,
    /// How many want the browse to go on.
    interested: usize,
    /// The browse now running, if any: its generation.
    browsing: Option<u64>,
    generation: u64,
    /// Services not kept: the table was full, or their records were unusable.
    dropped: u64,
    /// Whether a full table was told.
    told_full: bool,
}

impl State {
    /// Keeps what a resolved service says, if it is usable and there is room:
    /// true when the table changed.
    fn keep(&mut self, found: Option<Found>) -> bool {
        let Some(found) = found else {
            self.dropped += 1;
            return false;
        };
        if let Some(known) = self.found.iter_mut().find(|known| known.key == found.key) {
            *known = found;
        } else if self.found.len() < MAX_FOUND {
            debug!("found a udpchat: {}", found.shown_name());
            self.found.push(found);
        } else {
            self.dropped += 1;
            if !self.told_full {
                self.told_full = true;
                warn!("more than {MAX_FOUND} udpchats answered on the LAN: the others are not listed");
            }
            return false;
        }
        true
    }
}

/// How often a browse the daemon ended is started again.
const MAX_RESTARTS: u32 = 16;

/// Keeps the browse going while it lives.
pub(crate) struct Interest {
    directory: &'static Directory,
}

impl Drop for Interest {
    fn drop(&mut self) {
        let mut state = self.directory.lock();
        state.interested -= 1;
        if state.interested == 0 && state.browsing.take().is_some() {
            mdns::stop_browse();
            state.found.clear();
            self.directory.labels.set(&[]);
        }
    }
}

impl Directory {
    /// The process's directory.
    pub fn get() -> &'static Directory {
        static DIRECTORY: OnceLock<Directory> = OnceLock::new();
        DIRECTORY.get_or_init(|| Directory {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            labels: Arc::new(Labels::default()),
        })
    }

    /// Wakes every wait, so that a cancelled one sees it is cancelled.
    pub fn wake_all() {
        let directory = Directory::get();
        // Under the lock, so that a waiter between its check and its wait
        // cannot miss this.
        let _state = directory.lock();
        directory.changed.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts browsing unless it runs already, and keeps it going until the
    /// `Interest` is dropped.
    pub fn interest(&'static self) -> Result<Interest, Error> {
        let mut state = self.lock();
        if state.browsing.is_none() {
            let events = mdns::browse()?;
            state.generation += 1;
            let generation = state.generation;
            state.browsing = Some(generation);
            thread::Builder::new()
                .name("discover".into())
                .spawn(move || self.follow(generation, events))
                .map_err(Error::io("start the discovery thread"))?;
        }
        state.interested += 1;
        Ok(Interest { directory: self })
    }

    /// The browse thread: blocks on the daemon's events and keeps the table,
    /// until the browse it follows is stopped. It takes every event queued
    /// at once, under one lock: the daemon ends a browse whose listener falls
    /// 1,000 events behind, and a flood of answers must not make it so. Should
    /// that happen all the same, it browses again.
    fn follow(&self, generation: u64, mut events: Events) {
        let mut restarts = 0;
        loop {
            let Some(first) = events.recv() else {
                // The daemon ended the browse (its queue to us was full):
                // browse again while anyone wants it, a few times.
                let state = self.lock();
                if state.browsing != Some(generation) || restarts >= MAX_RESTARTS {
                    return;
                }
                restarts += 1;
                debug!("the browse for udpchats ended: browsing again");
                match mdns::browse() {
                    Ok(again) => events = again,
                    Err(err) => {
                        warn!("{err}");
                        return;
                    }
                }
                continue;
            };
            let batch: Vec<Event> = std::iter::once(first).chain(events.queued()).collect();
            let mut state = self.lock();
            if state.browsing != Some(generation) {
                return;
            }
            let mut changed = false;
            for event in batch {
                match event {
                    Event::Resolved(found) => changed |= state.keep(found),
                    Event::Removed(fullname) => {
                        state.found.retain(|known| known.key != fullname);
                        changed = true;
                    }
                    Event::Stopped => return,
                    Event::Other => {}
                }
            }
            if changed {
                self.labels.set(&state.found);
                drop(state);
                self.changed.notify_all();
            }
        }
    }

    /// Waits until `done` says the table holds what is wanted, `deadline`
    /// passes (`None`: never), or `cancel` is set; returns what `done`
    /// returned last. Blocks on a condition variable: it wakes only when the
    /// table changes, at the deadline, or when cancelled.
    pub fn wait<T>(
        &self,
        deadline: Option<Instant>,
        cancel: Option<&AtomicBool>,
        mut done: impl FnMut(&[Found]) -> Option<T>,
    ) -> Option<T> {
        let mut state = self.lock();
        loop {
            if let Some(result) = done(&state.found) {
                return Some(result);
            }
            if cancel.is_some_and(|cancel| cancel.load(Ordering::SeqCst)) {
                return None;
            }
            state = match deadline {
                None => self.changed.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    self.changed
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// A copy of the table now.
    pub fn snapshot(&self) -> Vec<Found> {
        self.lock().found.clone()
    }

    /// The names of addresses, kept up to date while browsing.
    pub fn labels(&self) -> Arc<Labels> {
        self.labels.clone()
    }
}

/// Names by source address, for labels: `(IP, port)`, the port a
/// service's `src=` (a room member's sending socket) or a peer's chat port. Bounded ([`MAX_LABELS`]); only names
/// udpchat itself would take are kept, already escaped for showing.
#[derive(Debug, Default)]
pub(crate) struct Labels {
    entries: RwLock<Vec<Label>>,
}

/// A source address and its name, escaped for showing.
#[derive(Debug)]
struct Label {
    ip: IpAddr,
    port: u16,
    name: Arc<str>,
}

impl Labels {
    /// Labels datagrams from `addr` with `name`: a peer found by name sends
    /// from its chat's port. Its lines from another port keep their address.
    pub fn insert(&self, addr: &SocketAddr, name: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() < MAX_LABELS {
            entries.push(Label {
                ip: addr.ip().to_canonical(),
                port: addr.port(),
                name: Arc::from(super::name::shown(name)),
            });
        }
    }

    /// Replaces the entries with the room members in `found`: each
    /// address with its `src=` port.
    fn set(&self, found: &[Found]) {
        let mut seen = HashSet::new();
        let mut entries = Vec::new();
        for service in found.iter().filter(|service| service.has_usable_name()) {
            let Some(port) = service.sending_port else {
                continue;
            };
            let name: Arc<str> = Arc::from(service.shown_name());
            for addr in &service.addrs {
                let key = (addr.ip().to_canonical(), port);
                if entries.len() < MAX_LABELS && seen.insert(key) {
                    entries.push(Label {
                        ip: key.0,
                        port,
                        name: name.clone(),
                    });
                }
            }
        }
        *self.entries.write().unwrap_or_else(|p| p.into_inner()) = entries;
    }

    /// Calls `with` with the name of `from` (canonical), if one is known.
    pub fn with_name<T>(&self, from: &SocketAddr, with: impl FnOnce(Option<&str>) -> T) -> T {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let name = entries
            .iter()
            .find(|label| label.ip == from.ip() && label.port == from.port())
            .map(|label| &*label.name);
        with(name)
    }
}

/// A wait that can be cut short from another thread (a Ctrl-C handler).
#[derive(Clone, Debug, Default)]
pub(crate) struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
        Directory::wake_all();
    }

    pub fn flag(&self) -> &AtomicBool {
        &self.0
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How long a lookup listens on after the first answer for the name, for
/// a second udpchat that answers to it too: responders answer within
/// 120 ms of a query (RFC 6762 section 6), and the daemon asks again after 1 s.
pub(crate) const SETTLE: Duration = Duration::from_millis(1200);

#[cfg(test)]
mod tests {
    use super::*;

    fn service(i: usize) -> Found {
        Found {
            name: format!("n{i}"),
            addrs: vec![SocketAddr::from(([10, 0, 0, 1], 2323))],
            port: 2323,
            secured: None,
            version: None,
            id: None,
            sending_port: Some(4000),
            key: format!("n{i}._udpchat._udp.local."),
        }
    }

    #[test]
    fn the_table_keeps_at_most_its_bound_and_updates_in_place() {
        let mut state = State::default();
        for i in 0..MAX_FOUND + 500 {
            state.keep(Some(service(i)));
        }
        assert_eq!(state.found.len(), MAX_FOUND);
        assert_eq!(state.dropped, 500);
        assert!(state.told_full);
        let mut again = service(3);
        again.port = 9;
        assert!(state.keep(Some(again)));
        assert_eq!(state.found.len(), MAX_FOUND);
        assert_eq!(state.found[3].port, 9);
        assert!(!state.keep(None));
    }

    #[test]
    fn labels_are_bounded_and_match_address_and_port() {
        let labels = Labels::default();
        let found: Vec<Found> = (0..MAX_LABELS + 10).map(service).collect();
        labels.set(&found);
        // One address and port for all: the first name holds it.
        let from = SocketAddr::from(([10, 0, 0, 1], 4000));
        assert_eq!(
            labels.with_name(&from, |name| name.map(str::to_owned)),
            Some("n0".into())
        );
        let other_port = SocketAddr::from(([10, 0, 0, 1], 4001));
        assert!(labels.with_name(&other_port, |name| name.is_none()));
        for i in 0..MAX_LABELS + 10 {
            labels.insert(&SocketAddr::from(([10, 0, 1, (i % 250) as u8], 2323)), "x");
        }
        assert!(labels.entries.read().unwrap().len() <= MAX_LABELS);
    }
}
