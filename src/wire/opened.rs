//! What opening a datagram gives: a line, nothing, or a refusal; and what a secured chat notices about a sender's lines.

/// Something about a sender's sequence of lines that a secured chat notices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// Only the secured format makes these; the plain one cannot tell.
#[cfg_attr(not(feature = "secure"), allow(dead_code))]
pub(crate) enum Event {
    /// This many lines from the sender are missing before this one.
    Lost(u64),
    /// A line seen already: a duplicate, or a replay. Not shown.
    Duplicated,
    /// A line that fills a gap after it was counted lost: it came late,
    /// and takes its loss back. Shown.
    Late,
}

/// What an [`Opener`](crate::wire::Opener) made of a datagram.
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "secure"), allow(dead_code))]
pub(crate) enum Opened<'a> {
    /// A line to show, perhaps after an event.
    Line(&'a [u8], Option<Event>),
    /// Nothing to show: the end of a sender's input, a duplicate, or a kind
    /// this udpchat does not know.
    Nothing(Option<Event>),
    /// Refused (not authentic, not for this chat, sent too long ago,
    /// implausible): counted and told, never shown.
    Refused,
    /// A line or an end sent reliably: shown in its session's order by
    /// [`Opener::deliver`](crate::wire::Opener::deliver).
    Reliable(crate::reliable::deliveries::Incoming<'a>),
}
