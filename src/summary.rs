//! What a finished chat did, and how to say it in English.

use std::fmt;

/// Why a chat ended without an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The input ended and every line was sent (or reported as not sent).
    EndOfInput,
    /// [`ShutdownHandle::interrupt`](crate::ShutdownHandle::interrupt) was
    /// called, e.g. on Ctrl-C or SIGTERM.
    Interrupted,
    /// The output was closed by its reader (`EPIPE`).
    OutputClosed,
    /// Confirmed delivery ([`Config::reliable`](crate::Config::reliable))
    /// gave up on every peer, for good: the rest of the input was not read.
    GaveUp,
}

/// What a finished chat did.
///
/// Its `Display` is one line for a log: `2 lines sent, 1 datagram received,
/// 0 dropped by the kernel`. More counts may come: read its fields, it is
/// made only by a chat.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// Why it ended.
    pub ended: Ended,
    /// Input lines sent as datagrams.
    pub lines_sent: u64,
    /// Input lines that could not be sent (too long, or refused by the system).
    pub lines_not_sent: u64,
    /// Empty input lines not sent, on purpose
    /// ([`Config::skip_empty`](crate::Config::skip_empty)).
    pub lines_skipped: u64,
    /// Datagrams received and printed. A room member's own lines, looped
    /// back to it, are neither printed nor counted.
    pub datagrams_received: u64,
    /// Datagrams from hosts not heard (not a peer, not in a room's networks),
    /// not shown.
    pub datagrams_ignored: u64,
    /// Datagrams the kernel dropped before they could be received, because
    /// the receive buffer was full; `None` where the system cannot count them
    /// (it can on Linux).
    pub datagrams_dropped: Option<u64>,
    /// Datagrams sent that came back refused: an ICMP error said the peer
    /// was not listening (port unreachable) or could not be reached. Their
    /// lines count as sent (they left this host) but were lost. Known on
    /// Linux and Windows; routers and hosts limit how many ICMP errors they
    /// send (Linux: about one a second to a host beyond loopback, and 1,000
    /// a second in all), so more may have been refused than this.
    pub datagrams_refused: u64,
    /// What a secured chat ([`Config::secret`](crate::Config)) noticed;
    /// `None` for a plain chat, which cannot tell.
    pub secured: Option<Secured>,
    /// What confirmed delivery ([`Config::reliable`](crate::Config::reliable))
    /// confirmed, per peer; `None` without it.
    pub delivery: Option<Delivery>,
}

/// What confirmed delivery confirmed, per peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// One for each peer, in the order they were given.
    pub peers: Vec<PeerDelivery>,
    /// Acknowledgements refused: from an address the chat does not send to,
    /// or acknowledging lines never sent.
    pub acks_refused: u64,
}

/// What one peer acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerDelivery {
    /// The peer, as lines were sent to it.
    pub peer: std::net::SocketAddr,
    /// Lines the peer acknowledged: it wrote them to its output.
    pub lines_delivered: u64,
    /// Times a line was sent again to the peer.
    pub lines_resent: u64,
    /// The input's line numbers (from 1) not acknowledged when the chat
    /// gave up on the peer or ended.
    pub not_delivered: Vec<std::ops::RangeInclusive<u64>>,
    /// The peer acknowledged the end of input, after every line before it.
    pub end_acknowledged: bool,
}

impl PeerDelivery {
    /// Lines not delivered to this peer.
    pub fn lines_not_delivered(&self) -> u64 {
        self.not_delivered
            .iter()
            .map(|range| range.end() - range.start() + 1)
            .sum()
    }
}

impl Delivery {
    /// Lines delivered, added over the peers.
    pub fn lines_delivered(&self) -> u64 {
        self.peers.iter().map(|peer| peer.lines_delivered).sum()
    }

    /// Lines sent again, added over the peers.
    pub fn lines_resent(&self) -> u64 {
        self.peers.iter().map(|peer| peer.lines_resent).sum()
    }

    /// Lines not delivered, added over the peers.
    pub fn lines_not_delivered(&self) -> u64 {
        self.peers.iter().map(PeerDelivery::lines_not_delivered).sum()
    }

    /// Whether every peer acknowledged every line and the end of input.
    pub fn complete(&self) -> bool {
        self.peers
            .iter()
            .all(|peer| peer.end_acknowledged && peer.not_delivered.is_empty())
    }

    /// One line per peer that did not acknowledge everything:
    /// `3 of 10 lines not delivered to 127.0.0.1:4000 (lines 2, 5-6)`, or
    /// that it did not acknowledge the end of input. `read` is the number
    /// of lines read.
    pub fn shortfalls(&self, read: u64) -> Vec<String> {
        self.peers
            .iter()
            .filter_map(|peer| {
                let missing = peer.lines_not_delivered();
                if missing > 0 {
                    Some(format!(
                        "{missing} of {} not delivered to {} ({})",
                        count(read, "line"),
                        peer.peer,
                        line_numbers(&peer.not_delivered)
                    ))
                } else if !peer.end_acknowledged {
                    Some(format!(
                        "{} did not acknowledge the end of input (every line was)",
                        peer.peer
                    ))
                } else {
                    None
                }
            })
            .collect()
    }
}

/// What the receiver of a secured chat noticed besides the lines it showed.
/// Each sealed datagram carries its sender's sequence number, so gaps,
/// repeats and late arrivals can be told. More counts may come.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Secured {
    /// Datagrams received and refused, not shown: not sealed, of another
    /// version, not authentic (another secret, changed or cut on the way),
    /// this chat's own sent back, sent to another chat, sent more than a
    /// minute from this host's clock, or implausibly far ahead.
    pub datagrams_rejected: u64,
    /// Lines a sender sent that never arrived: gaps in its sequence, net of
    /// those that came late.
    pub lines_lost: u64,
    /// Lines that arrived again (duplicated on the way, or replayed): not shown again.
    pub lines_duplicated: u64,
    /// Lines that arrived after a later one, once counted lost: shown, late.
    pub lines_reordered: u64,
    /// Authentic datagrams of a kind this udpchat does not know (a newer
    /// udpchat's): ignored.
    pub datagrams_of_unknown_kind: u64,
}

impl Summary {
    /// `1 of 3 lines not sent`, when some were not.
    pub fn not_sent(&self) -> Option<String> {
        (self.lines_not_sent > 0).then(|| {
            let read = self.lines_not_sent + self.lines_sent;
            format!("{} of {} not sent", self.lines_not_sent, count(read, "line"))
        })
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sent, {} received, ",
            count(self.lines_sent, "line"),
            count(self.datagrams_received, "datagram")
        )?;
        if self.lines_skipped > 0 {
            write!(f, "{} skipped, ", count(self.lines_skipped, "empty line"))?;
        }
        match self.datagrams_dropped {
            Some(dropped) => write!(f, "{dropped} dropped by the kernel")?,
            None => f.write_str("drops not countable on this system")?,
        }
        if self.datagrams_refused > 0 {
            write!(
                f,
                ", {} sent but refused (a peer not listening or unreachable)",
                self.datagrams_refused
            )?;
        }
        if let Some(secured) = &self.secured {
            write!(
                f,
                "; secured: {} lost, {} duplicated, {} out of order, {} rejected",
                count(secured.lines_lost, "line"),
                secured.lines_duplicated,
                secured.lines_reordered,
                count(secured.datagrams_rejected, "datagram"),
            )?;
            if secured.datagrams_of_unknown_kind > 0 {
                write!(
                    f,
                    ", {} of a kind this udpchat does not know ignored",
                    count(secured.datagrams_of_unknown_kind, "datagram")
                )?;
            }
        }
        if let Some(delivery) = &self.delivery {
            write!(
                f,
                "; reliable: {} delivered, {} resent, {} not delivered",
                delivery.lines_delivered(),
                delivery.lines_resent(),
                delivery.lines_not_delivered()
            )?;
            if delivery.acks_refused > 0 {
                write!(f, ", {} refused", count(delivery.acks_refused, "acknowledgement"))?;
            }
        }
        Ok(())
    }
}

/// Input line numbers, ascending, as ranges: `line 2`, `lines 2, 5-6`.
pub(crate) fn line_numbers(ranges: &[std::ops::RangeInclusive<u64>]) -> String {
    let single = ranges.len() == 1 && ranges[0].start() == ranges[0].end();
    let mut text = String::from(if single { "line " } else { "lines " });
    for (i, range) in ranges.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        if range.start() == range.end() {
            text.push_str(&range.start().to_string());
        } else {
            text.push_str(&format!("{}-{}", range.start(), range.end()));
        }
    }
    text
}

/// `1 datagram`, `2 datagrams`: a number and what it counts, read as English.
pub(crate) fn count(number: u64, noun: &str) -> String {
    if number == 1 {
        format!("1 {noun}")
    } else {
        format!("{number} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_english_for_one_and_for_many() {
        assert_eq!(count(0, "line"), "0 lines");
        assert_eq!(count(1, "line"), "1 line");
        assert_eq!(count(2, "datagram"), "2 datagrams");
        let summary = Summary {
            ended: Ended::EndOfInput,
            lines_sent: 1,
            lines_not_sent: 1,
            lines_skipped: 0,
            datagrams_received: 1,
            datagrams_ignored: 0,
            datagrams_dropped: Some(0),
            datagrams_refused: 0,
            secured: None,
            delivery: None,
        };
        assert_eq!(
            summary.to_string(),
            "1 line sent, 1 datagram received, 0 dropped by the kernel"
        );
        let skipped = Summary {
            lines_skipped: 2,
            ..summary.clone()
        };
        assert_eq!(
            skipped.to_string(),
            "1 line sent, 1 datagram received, 2 empty lines skipped, 0 dropped by the kernel"
        );
        let refused = Summary {
            datagrams_refused: 2,
            ..summary.clone()
        };
        assert!(
            refused
                .to_string()
                .ends_with(", 2 sent but refused (a peer not listening or unreachable)")
        );
        assert_eq!(summary.not_sent().as_deref(), Some("1 of 2 lines not sent"));
        assert_eq!(line_numbers(&[2..=2]), "line 2");
        assert_eq!(line_numbers(&[2..=2, 5..=7, 9..=9]), "lines 2, 5-7, 9");
    }
}
