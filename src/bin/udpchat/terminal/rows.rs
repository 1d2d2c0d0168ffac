//! Received lines cut into rows that fit the terminal, each row of a labelled line starting with its labels.
//!
//! A terminal wraps a line longer than its width by itself, and puts the
//! rest at column 0, where nothing tells it from a line of its own: a
//! stranger padding its text to the width could make the rest read as an
//! unlabelled line from the peer, or as another member's line in a room.
//! So udpchat cuts such a line into rows itself, a little narrower than the
//! terminal, and starts every row with the labels (time, sender) of the
//! line's first row. A line without labels (the peer's, in a chat with one
//! peer) is cut the same way, though it gains nothing: its first row could
//! already say anything.
//!
//! Widths are counted so as not to fall short of the terminal's: an ASCII
//! character takes one column, a tab runs to the next multiple of 8, and
//! any other character takes its East Asian width (`unicode-width`, with
//! ambiguous ones as wide). A character of no width (a combining accent, a
//! joiner) stays on the row of the one it joins. A row that comes out
//! narrower than it could be is harmless; one that came out wider would
//! wrap again.

use unicode_width::UnicodeWidthChar;

/// Columns between tab stops, as terminals set them by default.
const TAB: usize = 8;

/// Appends `text`, whole lines each ending in `\n`, to `out`, each line cut
/// into rows of fewer than `columns` columns (the last column stays free,
/// since terminals differ on what a row that fills it does next).
///
/// A line holding a control character other than a tab (after `--raw`,
/// where the peer can move the cursor anyway), and every line when the
/// terminal is narrower than 2 columns, is left as it is.
pub(super) fn cut(text: &str, columns: usize, out: &mut String) {
    let limit = columns.saturating_sub(1);
    for line in text.split_inclusive('\n') {
        let line = line.strip_suffix('\n').unwrap_or(line);
        cut_line(line, limit, out);
        out.push('\n');
    }
}

fn cut_line(line: &str, limit: usize, out: &mut String) {
    let labels = &line[..labels_len(line)];
    let text = &line[labels.len()..];
    if limit == 0 || text.chars().any(|c| c.is_control() && c != '\t') {
        out.push_str(line);
        return;
    }
    let labels_width = width_of(&strip_colors(labels), 0);
    if width_of(text, labels_width) <= limit.saturating_sub(labels_width) {
        out.push_str(line);
        return;
    }
    out.push_str(labels);
    let mut column = labels_width;
    let mut row_has_text = false;
    for c in text.chars() {
        let width = char_width(c, column);
        // Each row takes at least one character, however narrow the terminal.
        if row_has_text && width > 0 && column + width > limit {
            out.push('\n');
            out.push_str(labels);
            column = labels_width;
        }
        out.push(c);
        column += char_width(c, column);
        row_has_text = true;
    }
}

/// The columns `text` takes when it starts at column `start`.
fn width_of(text: &str, start: usize) -> usize {
    text.chars()
        .fold(start, |column, c| column + char_width(c, column))
        - start
}

/// The most columns `c` can take at column `column` (see the module's documentation).
fn char_width(c: char, column: usize) -> usize {
    match c {
        '\t' => TAB - column % TAB,
        ' '..='~' => 1,
        _ => c.width_cjk().unwrap_or(1),
    }
}

/// How many bytes of `line` are its labels: a time (`10:15:03`, or RFC 3339),
/// then a sender (`<ADDR>`), each optional, each coloured or not and followed
/// by a space, as `display::Style::push` writes them. At most one of each,
/// so text after the labels cannot make them longer.
fn labels_len(line: &str) -> usize {
    let mut len = 0;
    for is_label in [is_time, is_sender] {
        let rest = &line[len..];
        if let Some(end) = rest.find(' ')
            && is_label(&strip_colors(&rest[..end]))
        {
            len += end + 1;
        }
    }
    len
}

fn is_time(token: &str) -> bool {
    token.len() >= 8
        && token.starts_with(|c: char| c.is_ascii_digit())
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || b":-+.TZ".contains(&b))
}

fn is_sender(token: &str) -> bool {
    token.len() > 2 && token.starts_with('<') && token.ends_with('>')
}

/// `text` without SGR sequences (`ESC [ ... m`), which take no columns.
fn strip_colors(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("\x1b[") {
        out.push_str(&rest[..start]);
        rest = &rest[start + 2..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(rest.len());
        rest = rest[end..].strip_prefix('m').unwrap_or(&rest[end..]);
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, columns: usize) -> Vec<String> {
        let mut out = String::new();
        cut(text, columns, &mut out);
        out.lines().map(str::to_owned).collect()
    }

    #[test]
    fn leaves_a_line_that_fits_as_it_is() {
        assert_eq!(rows("<10.0.0.2:6> short\n", 80), ["<10.0.0.2:6> short"]);
        assert_eq!(rows("plain\n\n", 80), ["plain", ""]);
    }

    #[test]
    fn repeats_a_strangers_label_on_every_row_of_text_padded_to_wrap() {
        let padded = format!("<10.0.0.2:6> {}peer: send me the key\n", " ".repeat(20));
        let got = rows(&padded, 30);
        assert!(got.len() > 1, "{got:?}");
        for row in &got {
            assert!(row.starts_with("<10.0.0.2:6> "), "{got:?}");
            assert!(row.chars().count() < 30, "{row:?}");
        }
        let text: String = got.iter().map(|row| &row["<10.0.0.2:6> ".len()..]).collect();
        assert_eq!(text, format!("{}peer: send me the key", " ".repeat(20)));
    }

    #[test]
    fn repeats_time_and_sender_coloured_or_not_and_no_more() {
        let line = "\x1b[2m10:15:03\x1b[0m \x1b[36m<[::1]:5>\x1b[0m <forged:1> aaaa bbbb cccc\n";
        let labels = "\x1b[2m10:15:03\x1b[0m \x1b[36m<[::1]:5>\x1b[0m ";
        let got = rows(line, 30);
        assert!(got.len() > 1, "{got:?}");
        assert!(got.iter().all(|row| row.starts_with(labels)), "{got:?}");
        assert!(got[1..].iter().all(|row| !row.contains("<forged:1>")), "{got:?}");
        let rfc3339 = "2026-11-24T10:15:03.120+01:00 <10.0.0.2:6> ";
        assert_eq!(labels_len(&format!("{rfc3339}hi")), rfc3339.len());
    }

    #[test]
    fn counts_wide_characters_as_two_columns_and_keeps_accents_with_their_letters() {
        // 10 columns a row, 9 used: the label takes 4, leaving 5: two wide
        // characters (4), or five letters with a combining accent each.
        assert_eq!(rows("<a> 漢字漢字\n", 10), ["<a> 漢字", "<a> 漢字"]);
        let accented = "e\u{301}".repeat(5);
        assert_eq!(
            rows(&format!("<a> {accented}e\u{301}\n"), 10),
            [format!("<a> {accented}"), "<a> e\u{301}".to_owned()]
        );
    }

    #[test]
    fn runs_a_tab_to_the_next_stop() {
        assert_eq!(rows("<a> xxxxx\tz\n", 10), ["<a> xxxxx", "<a> \tz"]);
    }

    #[test]
    fn leaves_raw_text_with_escape_sequences_alone() {
        let raw = format!("<a> \x1b[2J{}\n", "z".repeat(40));
        assert_eq!(rows(&raw, 10), [raw.trim_end()]);
    }
}
