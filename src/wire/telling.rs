//! What a secured chat tells on stderr, within one budget for all sources together: refusals as what they are, and lines lost, late or twice, net.
//!
//! A flood can come from thousands of source addresses, and a recorded
//! datagram can be replayed from each of them. Nothing here is told per
//! datagram, nor per address without bound: what happens is gathered into a
//! few pending items (one per kind of refusal, and the line counts of a few
//! senders plus "other senders"), which merge whatever more comes, and at
//! most [`LINES_PER_SECOND`] of them are told each second, each with a
//! count of what it folded in. No table that fills can silence anything:
//! a full one only means more is folded. The counts in `Summary::secured`
//! are kept apart, exactly.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Instant;

use log::{debug, warn};

use crate::summary::count;
use crate::throttle::Throttle;
use crate::wire::opened::Event;
use crate::wire::window::WINDOW;

/// Warning lines told per second, all sources and reasons together.
pub(crate) const LINES_PER_SECOND: u32 = 5;

/// Senders whose line counts are told by name; the rest are "other senders".
const NAMED_SENDERS: usize = 4;

/// Sources and reasons remembered as told already, so that one peer's
/// stream of a refusal is told once rather than every second. When it is
/// full, refusals are told (folded) under the budget: never silenced.
const TOLD_ONCE: usize = 256;

/// Why a datagram was not shown, as it is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not sealed at all.
    Plain,
    /// Another version of the secured format.
    Version(u8),
    /// Too short to be a secured datagram of this version.
    CutShort,
    /// Sealed with another secret, or changed on the way.
    Unauthentic,
    /// Sent to an address this chat sends to: its own, or its peer's.
    Reflected,
    /// Sent to this address, which is not this chat's.
    Elsewhere(SocketAddr),
    /// Sent this many milliseconds before it arrived (negative: after), by the two clocks.
    Clock(i128),
    /// Numbered so far ahead that no chat can have got there: the number.
    Implausible(u64),
    /// Of a kind this udpchat does not know: ignored, not refused.
    UnknownKind(u8),
}

const REASONS: usize = 10;

impl Refusal {
    fn reason(&self) -> usize {
        match self {
            Refusal::Clock(_) => 0,
            Refusal::Elsewhere(_) => 1,
            Refusal::Reflected => 2,
            Refusal::Implausible(_) => 3,
            Refusal::UnknownKind(_) => 4,
            Refusal::Version(1) => 5,
            Refusal::Version(_) => 6,
            Refusal::Unauthentic => 7,
            Refusal::CutShort => 8,
            Refusal::Plain => 9,
        }
    }

    /// The warning, about a datagram from `from`.
    fn describe(&self, from: &SocketAddr) -> String {
        match self {
            Refusal::Plain => format!(
                "datagram from {from} is not sealed (a plain udpchat, nc or another program?), \
                 and this chat is secured: not shown"
            ),
            Refusal::Version(1) => format!(
                "datagram from {from} is from an older udpchat (secured format 1), \
                 which this one does not speak: upgrade it; not shown"
            ),
            Refusal::Version(version) => format!(
                "datagram from {from} is in secured format version {version}, which this \
                 udpchat does not speak (a newer udpchat?): not shown"
            ),
            Refusal::CutShort => format!(
                "datagram from {from} is too short for a secured datagram (cut short on the way?): not shown"
            ),
            Refusal::Unauthentic => format!(
                "datagram from {from} could not be authenticated: sealed with a different secret, \
                 or changed on the way; not shown"
            ),
            Refusal::Reflected => format!(
                "datagram from {from} is one of this chat's own, or one sent to its peer, sent back: \
                 not shown (someone on the way is replaying datagrams)"
            ),
            Refusal::Elsewhere(to) => format!(
                "datagram from {from} was sent to {to}, not to this chat: not shown (a datagram of \
                 another chat, replayed; or this host is reached through NAT or a relay: see --reachable-at)"
            ),
            Refusal::Clock(age) => format!(
                "datagram from {from} was sent {} by its clock, beyond the {} s a secured chat \
                 accepts: not shown (is one of the clocks wrong?)",
                describe_age(*age),
                crate::wire::open::TOLERANCE.as_secs()
            ),
            Refusal::Implausible(number) => format!(
                "datagram from {from} is numbered {number}, further than its sender can have \
                 gone: implausible (no chat sends that fast); not shown"
            ),
            Refusal::UnknownKind(kind) => format!(
                "datagram from {from} is of a kind this udpchat does not know ({kind}): \
                 a newer udpchat? ignored"
            ),
        }
    }
}

/// A refusal waiting to be told: the first one, and how many more came.
#[derive(Debug)]
struct Pending {
    from: SocketAddr,
    refusal: Refusal,
    more: u64,
}

/// Lines lost, late and twice from one sender (or from the others), not told yet.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Lines {
    lost: u64,
    late: u64,
    duplicated: u64,
}

impl Lines {
    fn add(&mut self, event: Event) {
        match event {
            Event::Lost(lines) => self.lost = self.lost.saturating_add(lines),
            Event::Late => self.late += 1,
            Event::Duplicated => self.duplicated += 1,
        }
    }

    fn is_empty(&self) -> bool {
        *self == Lines::default()
    }

    /// Tells them, as from `who`: the loss net of the late lines (which
    /// take back a loss told before, and say so), then the repeats.
    fn tell(&self, who: &str) {
        if self.lost > self.late {
            warn!("{} from {who} lost", count(self.lost - self.late, "line"));
        } else if self.late > self.lost {
            warn!(
                "{} from {who}, told lost, came late after all",
                count(self.late - self.lost, "line")
            );
        }
        if self.duplicated > 0 {
            warn!(
                "{} from {who} came twice (duplicated, replayed, or more than {WINDOW} lines late): \
                 not shown again",
                count(self.duplicated, "line")
            );
        }
    }
}

/// Everything a secured receiver has to tell, and the one budget it is told in.
pub(crate) struct Telling {
    refusals: [Option<Pending>; REASONS],
    senders: Vec<(SocketAddr, Lines)>,
    others: Lines,
    told_once: HashSet<(SocketAddr, usize)>,
    budget: Throttle,
}

impl Telling {
    pub fn new() -> Telling {
        Telling {
            refusals: Default::default(),
            senders: Vec::new(),
            others: Lines::default(),
            told_once: HashSet::new(),
            budget: Throttle::per_second(LINES_PER_SECOND),
        }
    }

    /// A datagram from `from` refused (or ignored) for `refusal`.
    pub fn refused(&mut self, from: &SocketAddr, refusal: Refusal) {
        let reason = refusal.reason();
        if self.told_once.contains(&(*from, reason)) {
            debug!("{}", refusal.describe(from));
            self.tell_if_due();
            return;
        }
        if self.told_once.len() < TOLD_ONCE {
            self.told_once.insert((*from, reason));
        }
        match &mut self.refusals[reason] {
            Some(pending) => pending.more += 1,
            slot => {
                *slot = Some(Pending {
                    from: *from,
                    refusal,
                    more: 0,
                })
            }
        }
        self.tell_if_due();
    }

    /// Something noticed about a line from `from`.
    pub fn line_event(&mut self, from: &SocketAddr, event: Event) {
        if let Some((_, lines)) = self.senders.iter_mut().find(|(sender, _)| sender == from) {
            lines.add(event);
        } else if self.senders.len() < NAMED_SENDERS {
            let mut lines = Lines::default();
            lines.add(event);
            self.senders.push((*from, lines));
        } else {
            self.others.add(event);
        }
        self.tell_if_due();
    }

    fn is_empty(&self) -> bool {
        self.refusals.iter().all(Option::is_none) && self.senders.is_empty() && self.others.is_empty()
    }

    /// Tells what is pending, as far as this second's budget allows.
    /// Reads no clock while nothing is pending.
    pub fn tell_if_due(&mut self) {
        if self.is_empty() {
            return;
        }
        let now = Instant::now();
        while !self.is_empty() && self.budget.allows(now) {
            self.tell_one();
        }
    }

    /// At the end of the chat: everything still pending, whatever the budget.
    pub fn tell_all(&mut self) {
        while !self.is_empty() {
            self.tell_one();
        }
    }

    /// Tells the first pending item: refusals first, then senders' lines.
    fn tell_one(&mut self) {
        if let Some(pending) = self.refusals.iter_mut().find_map(Option::take) {
            let mut line = pending.refusal.describe(&pending.from);
            if pending.more > 0 {
                let _ = write!(line, " (and {} more like it since)", pending.more);
            }
            warn!("{line}");
        } else if !self.senders.is_empty() {
            let (from, lines) = self.senders.remove(0);
            lines.tell(&from.to_string());
        } else {
            std::mem::take(&mut self.others).tell("other senders");
        }
    }
}

/// `3 min 20 s ago`, `in 2 h`: an age for a message, roughly.
fn describe_age(age_ms: i128) -> String {
    let ms = age_ms.unsigned_abs();
    let secs = (ms / 1000) as u64;
    // Tenths, rounded up, below two minutes: an age just beyond the
    // tolerance reads as beyond it (60.1 s), never as the tolerance itself.
    let tenths = ms.div_ceil(100);
    let amount = match secs {
        _ if tenths < 1200 && !tenths.is_multiple_of(10) => format!("{}.{} s", tenths / 10, tenths % 10),
        0..120 => format!("{} s", tenths / 10),
        120..7200 => format!("{} min", secs / 60),
        7200..172_800 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    };
    if age_ms >= 0 {
        format!("{amount} ago")
    } else {
        format!("{amount} in the future")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_a_slot_of_its_own() {
        let from: SocketAddr = "10.0.0.1:9".parse().unwrap();
        let all = [
            Refusal::Plain,
            Refusal::Version(1),
            Refusal::Version(3),
            Refusal::CutShort,
            Refusal::Unauthentic,
            Refusal::Reflected,
            Refusal::Elsewhere(from),
            Refusal::Clock(1),
            Refusal::Implausible(1),
            Refusal::UnknownKind(9),
        ];
        let mut reasons: Vec<usize> = all.iter().map(Refusal::reason).collect();
        reasons.sort_unstable();
        assert_eq!(reasons, (0..REASONS).collect::<Vec<_>>());
        assert!(
            Refusal::Version(1)
                .describe(&from)
                .contains("older udpchat (secured format 1)")
        );
    }

    #[test]
    fn a_flood_from_many_sources_stays_a_few_pending_items() {
        let mut telling = Telling::new();
        // The budget is spent at once, on the first few.
        for port in 0..LINES_PER_SECOND as u16 {
            telling.line_event(&SocketAddr::from(([10, 0, 0, 1], port)), Event::Duplicated);
        }
        for port in 0..2_000u16 {
            let from = SocketAddr::from(([10, 0, 0, 2], port));
            telling.line_event(&from, Event::Duplicated);
            telling.refused(&from, Refusal::Unauthentic);
        }
        assert_eq!(telling.senders.len(), NAMED_SENDERS);
        assert_eq!(telling.others.duplicated, 2_000 - NAMED_SENDERS as u64);
        assert_eq!(telling.told_once.len(), TOLD_ONCE);
        let pending = telling.refusals[Refusal::Unauthentic.reason()].as_ref().unwrap();
        assert_eq!(pending.more, 1_999);
        // A different refusal, after the flood, has a slot of its own.
        telling.refused(&"10.0.0.3:9".parse().unwrap(), Refusal::Clock(120_000));
        assert!(telling.refusals[Refusal::Clock(0).reason()].is_some());
    }

    #[test]
    fn describes_ages_in_words() {
        assert_eq!(describe_age(3_000), "3 s ago");
        // Just beyond the tolerance is told as beyond it, not as 60 s.
        assert_eq!(describe_age(-60_001), "60.1 s in the future");
        assert_eq!(describe_age(119_950), "120 s ago");
        assert_eq!(describe_age(-200_000), "3 min in the future");
        assert_eq!(describe_age(3 * 86_400_000), "3 days ago");
    }
}
