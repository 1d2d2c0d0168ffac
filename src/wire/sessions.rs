//! The sender sessions a secured receiver remembers: a table of bounded size that forgets the least recently heard when full, so that no new session is ever refused.
//!
//! Only holders of the secret can add a session, but a hostile one can add
//! as many as it likes. A table that refused newcomers when full would let
//! it lock everyone else out; one that forgot by the header's times would
//! let it choose whom to push out. This one forgets whichever session this
//! receiver heard from least recently, by the order datagrams arrived here,
//! which no sender controls: a flood pushes out only sessions quieter than
//! the flood itself, and a session pushed out that speaks again starts a
//! fresh window (its line is shown; see docs/PROTOCOL.md for the cost).

use std::collections::HashMap;

use crate::wire::window::Window;

/// Sessions remembered at once: about 200 bytes each, so under a megabyte.
pub(crate) const MAX_SESSIONS: usize = 4096;

/// No slot: the end of the recency list.
const NONE: usize = usize::MAX;

/// A table of windows by session, in order of when each was last heard.
pub(crate) struct Sessions {
    capacity: usize,
    index: HashMap<u64, usize>,
    slots: Vec<Slot>,
    /// The most and the least recently heard slots.
    newest: usize,
    oldest: usize,
}

struct Slot {
    session: u64,
    window: Window,
    newer: usize,
    older: usize,
}

impl Sessions {
    pub fn new(capacity: usize) -> Sessions {
        assert!(capacity > 0);
        Sessions {
            capacity,
            index: HashMap::new(),
            slots: Vec::new(),
            newest: NONE,
            oldest: NONE,
        }
    }

    /// The window of `session`, now the most recently heard; or, for a
    /// session not remembered, the one `make` makes, after the least
    /// recently heard session is forgotten if the table is full. Also says
    /// whether one was forgotten.
    pub fn heard(&mut self, session: u64, make: impl FnOnce() -> Window) -> (&mut Window, bool) {
        if let Some(&slot) = self.index.get(&session) {
            self.unlink(slot);
            self.link_newest(slot);
            return (&mut self.slots[slot].window, false);
        }
        let forgot = self.slots.len() >= self.capacity;
        let slot = if forgot {
            let oldest = self.oldest;
            self.unlink(oldest);
            self.index.remove(&self.slots[oldest].session);
            self.slots[oldest].session = session;
            self.slots[oldest].window = make();
            oldest
        } else {
            self.slots.push(Slot {
                session,
                window: make(),
                newer: NONE,
                older: NONE,
            });
            self.slots.len() - 1
        };
        self.index.insert(session, slot);
        self.link_newest(slot);
        (&mut self.slots[slot].window, forgot)
    }

    /// Whether `session` is remembered.
    #[cfg(test)]
    pub fn contains(&self, session: u64) -> bool {
        self.index.contains_key(&session)
    }

    fn unlink(&mut self, slot: usize) {
        let (newer, older) = (self.slots[slot].newer, self.slots[slot].older);
        match newer {
            NONE => self.newest = older,
            newer => self.slots[newer].older = older,
        }
        match older {
            NONE => self.oldest = newer,
            older => self.slots[older].newer = newer,
        }
    }

    fn link_newest(&mut self, slot: usize) {
        self.slots[slot].newer = NONE;
        self.slots[slot].older = self.newest;
        match self.newest {
            NONE => self.oldest = slot,
            newest => self.slots[newest].newer = slot,
        }
        self.newest = slot;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn window() -> Window {
        Window::new(0, false, Instant::now(), Duration::ZERO)
    }

    #[test]
    fn a_full_table_forgets_the_least_recently_heard_and_takes_every_newcomer() {
        let mut sessions = Sessions::new(3);
        for session in [1, 2, 3] {
            assert!(!sessions.heard(session, window).1);
        }
        // 1 speaks again: 2 is now the quietest.
        assert!(!sessions.heard(1, window).1);
        assert!(sessions.heard(4, window).1);
        assert!(!sessions.contains(2));
        assert!(sessions.heard(5, window).1);
        assert!(!sessions.contains(3));
        for session in [1, 4, 5] {
            assert!(sessions.contains(session), "{session}");
        }
        // A flood of newcomers pushes out everything quieter than itself.
        for session in 100..1100 {
            sessions.heard(session, window);
        }
        assert!((1097..1100).all(|session| sessions.contains(session)));
        assert!(!sessions.contains(1));
    }

    proptest::proptest! {
        /// Against a model: a list in order of hearing.
        #[test]
        fn keeps_exactly_the_most_recently_heard(heard in proptest::collection::vec(0u64..12, 0..200)) {
            let mut sessions = Sessions::new(5);
            let mut model: Vec<u64> = Vec::new();
            for session in heard {
                model.retain(|s| *s != session);
                model.push(session);
                let forgot = model.len() > 5;
                if forgot {
                    model.remove(0);
                }
                proptest::prop_assert_eq!(sessions.heard(session, window).1, forgot);
                for s in 0..12 {
                    proptest::prop_assert_eq!(sessions.contains(s), model.contains(&s));
                }
            }
        }
    }
}
