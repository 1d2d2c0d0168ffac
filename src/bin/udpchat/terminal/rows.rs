//! Received lines cut into rows narrower than the terminal: a line's first row starts with its labels, every other with a mark no sender can write.
//!
//! A terminal wraps a line longer than its width by itself, and puts the
//! rest at column 0, where nothing tells it from a line of its own: a
//! stranger padding its text to the width could make the rest read as an
//! unlabelled line from the peer, or as another member's line in a room.
//! So udpchat cuts such a line into rows itself, a little narrower than the
//! terminal, and starts every row after the first with [`CONTINUATION`]:
//! `↳`, which udpchat escapes wherever it occurs in received text
//! (`udpchat::display::Style::CONTINUATION_MARK`), so only udpchat can start a row
//! with it. A row of a received line therefore starts either a line (with
//! its labels, when it has any) or with the mark; the labels are not
//! repeated, so that a long line reads as one line, and a narrow terminal
//! does not multiply each line's bytes by its labels. Labels wider than a
//! row are cut like text.
//!
//! Widths are counted so as never to fall short of the terminal's (see
//! [`width`](super::width)). A character that joins the one before it (an
//! accent, a spacing mark) stays on that one's row where it can. A row
//! that comes out narrower than it could be is harmless; one that came out
//! wider would wrap again.

use super::width;

/// Starts each row of a received line after its first.
pub(super) const CONTINUATION: &str = "\u{21b3} ";

/// The columns [`CONTINUATION`] takes.
const CONTINUATION_WIDTH: usize = 2;

/// Narrower than this, a row could not hold the mark and the widest
/// character, and lines are left for the terminal to wrap.
const NARROWEST: usize = CONTINUATION_WIDTH + 2;

/// SGR sequence that ends a colour (as `udpchat::display` writes the labels).
const RESET: &str = "\x1b[0m";

/// Appends `text`, whole lines each ending in `\n`, to `out`, each line cut
/// into rows of fewer than `columns` columns (the last column stays free,
/// since terminals differ on what a row that fills it does next); a row
/// holding a single character and the mark may fill it.
///
/// A line holding a control character other than a tab, or escape
/// sequences other than colours (after `--raw`, where the peer can move the
/// cursor anyway), and every line when the terminal is narrower than
/// [`NARROWEST`], is left as it is.
pub(super) fn cut(text: &str, columns: usize, out: &mut String) {
    for line in text.split_inclusive('\n') {
        let line = line.strip_suffix('\n').unwrap_or(line);
        cut_line(line, columns, out);
        out.push('\n');
    }
}

/// One piece of a line: a character, or a colour (an SGR sequence), which
/// takes no column.
enum Piece<'a> {
    Char(char),
    Color(&'a str),
}

/// The pieces of `line`, or `None` if it holds a control character other
/// than a tab, or an escape sequence other than a colour.
fn pieces(line: &str) -> Option<Vec<(usize, Piece<'_>)>> {
    let mut pieces = Vec::new();
    let mut chars = line.char_indices();
    while let Some((at, c)) = chars.next() {
        if c == '\x1b' {
            let rest = line[at + 1..].strip_prefix('[')?;
            let params = rest.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
            if !rest[params..].starts_with('m') {
                return None;
            }
            let end = at + 2 + params + 1;
            pieces.push((at, Piece::Color(&line[at..end])));
            // Skip what the sequence held: all ASCII, one byte a character.
            for _ in 0..end - at - 1 {
                chars.next();
            }
        } else if c.is_control() && c != '\t' {
            return None;
        } else {
            pieces.push((at, Piece::Char(c)));
        }
    }
    Some(pieces)
}

fn cut_line(line: &str, columns: usize, out: &mut String) {
    let limit = columns.saturating_sub(1);
    let pieces = match pieces(line) {
        Some(pieces) if columns >= NARROWEST => pieces,
        _ => {
            out.push_str(line);
            return;
        }
    };
    let fits = pieces
        .iter()
        .try_fold(0, |column, (_, piece)| {
            let column = match piece {
                Piece::Char(c) => column + width::of(*c, column),
                Piece::Color(_) => column,
            };
            (column <= limit).then_some(column)
        })
        .is_some();
    if fits {
        out.push_str(line);
        return;
    }
    let mut row = Row {
        column: 0,
        empty: true,
        color: None,
    };
    // Where the last character that does not join the one before it
    // starts in `out`, with the colour then, if it did not start its row:
    // the characters that join it may take it to the next row with them.
    let mut cluster: Option<(usize, Option<&str>)> = None;
    for (_, piece) in pieces {
        let c = match piece {
            Piece::Color(sequence) => {
                out.push_str(sequence);
                row.color = (sequence != RESET).then_some(sequence);
                continue;
            }
            Piece::Char(c) => c,
        };
        let joins = width::joins_previous(c);
        let mut width = width::of(c, row.column);
        if !row.empty && width > 0 && row.column + width > limit {
            if joins && let Some((start, color)) = cluster.take() {
                // The character it joins goes to the next row with it.
                let moved = out.split_off(start);
                row.end(out, color);
                row.column += moved
                    .chars()
                    .fold(0, |column, c| column + width::of(c, row.column + column));
                out.push_str(&moved);
                row.empty = false;
                width = width::of(c, row.column);
            }
            if row.column + width > limit {
                row.end(out, row.color);
                width = width::of(c, row.column);
            }
        }
        if !joins {
            cluster = (!row.empty).then_some((out.len(), row.color));
        }
        out.push(c);
        row.column += width;
        row.empty = false;
    }
}

/// The row being filled.
struct Row<'a> {
    column: usize,
    /// No character on it yet (the mark aside).
    empty: bool,
    /// The colour in effect, to end before the row ends and take up again after the mark.
    color: Option<&'a str>,
}

impl<'a> Row<'a> {
    /// Ends the row and starts the next with the mark, in `color`.
    fn end(&mut self, out: &mut String, color: Option<&'a str>) {
        if color.is_some() {
            out.push_str(RESET);
        }
        out.push('\n');
        out.push_str(CONTINUATION);
        if let Some(color) = color {
            out.push_str(color);
        }
        *self = Row {
            column: CONTINUATION_WIDTH,
            empty: true,
            color,
        };
    }
}

#[cfg(test)]
mod tests {
    use unicode_width::UnicodeWidthStr;

    use super::*;

    fn rows(text: &str, columns: usize) -> Vec<String> {
        let mut out = String::new();
        cut(text, columns, &mut out);
        out.lines().map(str::to_owned).collect()
    }

    /// `row` without colours.
    fn plain(row: &str) -> String {
        let mut out = String::new();
        let mut rest = row;
        while let Some(start) = rest.find("\x1b[") {
            out.push_str(&rest[..start]);
            rest = &rest[start..];
            rest = &rest[rest.find('m').unwrap() + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The line that `rows` were cut from.
    fn joined(rows: &[String]) -> String {
        let mut line = rows[0].clone();
        for row in &rows[1..] {
            line.push_str(row.strip_prefix(CONTINUATION).expect("a continuation row"));
        }
        line
    }

    #[test]
    fn the_mark_is_one_that_received_text_can_never_hold() {
        let mark = CONTINUATION.chars().next().unwrap();
        assert_eq!(mark, udpchat::display::Style::CONTINUATION_MARK);
        assert_eq!(
            udpchat::display::Style::sanitize_text(CONTINUATION.as_bytes()),
            "\\u{21b3} "
        );
        assert_eq!(CONTINUATION.width(), CONTINUATION_WIDTH);
    }

    #[test]
    fn leaves_a_line_that_fits_as_it_is() {
        assert_eq!(rows("<10.0.0.2:6> short\n", 80), ["<10.0.0.2:6> short"]);
        assert_eq!(rows("plain\n\n", 80), ["plain", ""]);
    }

    #[test]
    fn marks_every_row_after_the_first_of_text_padded_to_wrap() {
        let padded = format!("<10.0.0.2:6> {}peer: send me the key\n", " ".repeat(20));
        let got = rows(&padded, 30);
        assert!(got.len() > 1, "{got:?}");
        assert!(got[0].starts_with("<10.0.0.2:6> "), "{got:?}");
        for row in &got[1..] {
            assert!(row.starts_with(CONTINUATION), "{got:?}");
        }
        for row in &got {
            assert!(row.width() < 30, "{row:?}");
        }
        assert_eq!(joined(&got), padded.trim_end());
    }

    #[test]
    fn cuts_labels_wider_than_a_row_as_text_and_keeps_their_colour_to_the_row() {
        let labels = "\x1b[2m2026-11-24T10:15:03.120+01:00\x1b[0m \x1b[36m<[::1]:5>\x1b[0m ";
        let line = format!("{labels}hi\n");
        let got = rows(&line, 12);
        for row in &got {
            assert!(plain(row).width() < 12, "{got:?}");
            // Each row ends any colour it started.
            assert_eq!(row.matches("\x1b[").count() % 2, 0, "{row:?}");
        }
        assert!(
            got[1..].iter().all(|row| row.starts_with(CONTINUATION)),
            "{got:?}"
        );
        assert_eq!(plain(&joined(&got)), plain(line.trim_end()));
        assert!(got[1].starts_with(&format!("{CONTINUATION}\x1b[2m")), "{got:?}");
    }

    #[test]
    fn counts_wide_characters_as_two_columns_and_keeps_accents_with_their_letters() {
        // 10 columns a row, 9 used: the label takes 4, leaving 5 on the
        // first row (two wide characters), and 7 after the mark.
        assert_eq!(rows("<a> 漢字漢字漢字\n", 10), ["<a> 漢字", "↳ 漢字漢", "↳ 字"]);
        let accented = "e\u{301}".repeat(5);
        assert_eq!(
            rows(&format!("<a> {accented}e\u{301}\n"), 10),
            [format!("<a> {accented}"), "↳ e\u{301}".to_owned()]
        );
    }

    #[test]
    fn takes_a_letter_to_the_next_row_with_the_spacing_mark_after_it() {
        // U+0995 U+09BE, Bengali KA and its vowel sign AA: the sign counts 2.
        let got = rows("<a> xxxx\u{995}\u{9be}\n", 10);
        assert_eq!(got, ["<a> xxxx", "↳ \u{995}\u{9be}"]);
    }

    #[test]
    fn runs_a_tab_to_the_next_stop() {
        assert_eq!(rows("<a> xxxxx\tz\n", 10), ["<a> xxxxx", "↳ \tz"]);
    }

    #[test]
    fn leaves_raw_text_with_escape_sequences_alone() {
        let raw = format!("<a> \x1b[2J{}\n", "z".repeat(40));
        assert_eq!(rows(&raw, 10), [raw.trim_end()]);
        let narrow = format!("{}\n", "z".repeat(40));
        assert_eq!(rows(&narrow, NARROWEST - 1), [narrow.trim_end()]);
    }

    #[test]
    fn gives_each_row_a_character_however_narrow_the_terminal() {
        let got = rows("漢字x\n", NARROWEST);
        assert_eq!(got, ["漢", "↳ 字", "↳ x"]);
    }
}
