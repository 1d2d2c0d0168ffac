//! What a udpchat name may be, and how a name from the LAN is shown: one DNS label of printable text, escaped where it could forge anything.

use crate::display::Style;

/// The longest name, in bytes of UTF-8: one DNS label (RFC 1035, RFC 6763 section 4.1.1).
pub const MAX_NAME_LEN: usize = 63;

/// Why a name cannot be a udpchat's name, or `None` when it can.
///
/// A name is one DNS label of 1 to 63 bytes of UTF-8 that reads the same
/// wherever it is shown: no control characters, bidi controls or invisible
/// characters, no space at either end, and none of `. : , [ ] < > \`, so that
/// a name given as a peer can never be read as an address (`pc-b.lan`,
/// `10.0.0.1`, `[::1]`) and a `<name>` label cannot be closed early. A name
/// of digits alone would read as a port, and is refused too.
pub fn problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("a name cannot be empty");
    }
    if name.len() > MAX_NAME_LEN {
        return Some("a name is at most 63 bytes of UTF-8 (one DNS label)");
    }
    if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        return Some("a name cannot start or end with a space");
    }
    if name
        .chars()
        .any(|c| c != ' ' && (c.is_whitespace() || is_hidden(c)))
    {
        return Some(
            "a name cannot hold control characters, bidi controls, invisible characters \
             or any space but U+0020",
        );
    }
    if name.chars().any(|c| ".:,[]<>\\".contains(c)) {
        return Some("a name cannot hold any of . : , [ ] < > \\ (it would read as an address)");
    }
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return Some("a name cannot be digits alone (it would read as a port)");
    }
    None
}

/// A name or TXT value from the LAN as it may be shown anywhere, even where
/// received text is not escaped: through the sanitizer of received text
/// ([`Style::sanitize_text`]), and with invisible characters (zero-width
/// spaces and joiners, fillers, soft hyphens) escaped as well, so that two
/// names that look alike are shown apart.
pub fn shown(text: &str) -> String {
    let sanitized = Style::sanitize_text(text.as_bytes());
    if !sanitized.chars().any(is_invisible) {
        return sanitized;
    }
    let mut out = String::with_capacity(sanitized.len() + 8);
    for c in sanitized.chars() {
        if is_invisible(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters a name must not hold: what the sanitizer escapes, and what
/// shows as nothing.
fn is_hidden(c: char) -> bool {
    crate::display::is_unsafe_char(c) || is_invisible(c)
}

/// Characters that take no visible room, or look like a blank where no
/// blank is expected: format characters and fillers. They would let
/// `alice` and `al\u{200b}ice` pass for one name.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00ad}' // soft hyphen
        | '\u{034f}' // combining grapheme joiner
        | '\u{115f}' | '\u{1160}' | '\u{3164}' | '\u{ffa0}' // Hangul fillers
        | '\u{17b4}' | '\u{17b5}' // Khmer inherent vowels
        | '\u{180b}'..='\u{180f}' // Mongolian selectors and vowel separator
        | '\u{200b}'..='\u{200d}' // zero-width space, non-joiner, joiner
        | '\u{2028}' | '\u{2029}' // line and paragraph separators
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{206a}'..='\u{206f}' // deprecated format characters
        | '\u{2800}' // braille blank
        | '\u{fe00}'..='\u{fe0f}' // variation selectors
        | '\u{feff}' // zero-width no-break space
        | '\u{fff9}'..='\u{fffb}' // interlinear annotations
        | '\u{e0000}'..='\u{e007f}' // tags
        | '\u{e0100}'..='\u{e01ef}' // variation selectors supplement
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_one_printable_label() {
        for good in ["alice", "Bob", "pc 2", "José", "山田", "a-b_c", &"x".repeat(63)] {
            assert_eq!(problem(good), None, "{good:?}");
        }
    }

    #[test]
    fn refuses_what_could_forge_or_read_as_an_address() {
        for bad in [
            "",
            &"x".repeat(64),
            &"é".repeat(32), // 64 bytes
            " alice",
            "alice ",
            "ali\tce",
            "ali\nce",
            "al\u{1b}[2Jice",
            "\u{202e}ecila",
            "al\u{200b}ice",
            "\u{3164}",
            "pc-b.lan",
            "host:2323",
            "a,b",
            "<alice>",
            "[::1]",
            "a\\b",
            "2323",
        ] {
            assert!(problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn shows_hostile_names_escaped() {
        assert_eq!(shown("alice"), "alice");
        assert_eq!(shown("al\u{1b}[2Jice"), r"al\x1b[2Jice");
        assert_eq!(shown("\u{202e}ecila"), r"\u{202e}ecila");
        assert_eq!(shown("al\u{200b}ice"), r"al\u{200b}ice");
        assert_eq!(shown("\u{3164}"), r"\u{3164}");
        assert_eq!(shown("a\nb"), r"a\x0ab");
    }
}
