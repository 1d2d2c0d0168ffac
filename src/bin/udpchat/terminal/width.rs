//! How many columns a received character may take at a terminal: never fewer than any terminal draws it.
//!
//! Terminals measure characters with tables of their own (glibc's
//! `wcwidth`, tmux's, VTE's, kitty's ...), each from some version of
//! Unicode, and they disagree. udpchat cuts received lines into rows by
//! this measure, so where it counted fewer columns than the terminal draws,
//! the terminal would wrap the row itself and the rest would start a row
//! that is not the line's: unlabelled, or under another sender's label. So
//! each character counts the most columns a terminal may give it:
//!
//! - ASCII takes one column, a tab runs to the next stop;
//! - any other character takes its East Asian width, ambiguous ones as
//!   wide (`unicode-width`'s `width_cjk`): 2 for wide ones, else 1;
//! - of the characters `unicode-width` counts as taking no column, only
//!   those that every terminal draws so count 0: the nonspacing marks and
//!   format characters of Unicode 3.2 (2002), which every terminal's table
//!   knows, and still nonspacing today ([`ZERO_SINCE_3_2`]); every other
//!   one counts 2, the most any terminal draws a character. Those are
//!   spacing marks that `unicode-width` folds into the letter before them
//!   (U+09BE, the Bengali vowel sign AA, which glibc draws 1 column wide),
//!   prepended concatenation marks (U+0605), and marks newer than a
//!   terminal's table, which it draws 1 column wide (tmux with a glibc of
//!   Unicode 14 does so with U+1ACF);
//! - U+FE0F, which asks for an emoji's colour form, counts 1: it makes the
//!   character before it 2 columns wide on some terminals;
//! - a regional indicator (half of a flag) counts 2, as some terminals draw it.
//!
//! Invisible fillers and default-ignorable characters that terminals draw
//! anyway (U+3164, U+00AD ...) never get here: the sanitizer escapes them
//! (`udpchat::display`). `tests/terminal.rs` shows every character on which
//! `unicode-width` and glibc disagree at a terminal (tmux), and checks that
//! no row of any of them wraps.

use unicode_width::UnicodeWidthChar;

/// Columns between tab stops, as terminals set them by default.
const TAB: usize = 8;

/// The widest a terminal draws one character.
const WIDEST: usize = 2;

/// The most columns `c` can take at a terminal when drawn at column `column`.
pub(super) fn of(c: char, column: usize) -> usize {
    match c {
        '\t' => TAB - column % TAB,
        ' '..='~' => 1,
        '\u{fe0f}' => 1,
        '\u{1f1e6}'..='\u{1f1ff}' => WIDEST,
        _ => match c.width_cjk() {
            Some(0) if takes_no_column_anywhere(c) => 0,
            Some(0) => WIDEST,
            Some(width) => width,
            // Controls do not reach here (see `rows::cut`).
            None => WIDEST,
        },
    }
}

/// True for a character that belongs with the one before it rather than
/// standing alone: one `unicode-width` counts as taking no column. A row
/// is not ended before it while that can be helped.
pub(super) fn joins_previous(c: char) -> bool {
    !c.is_ascii() && c.width_cjk() == Some(0)
}

fn takes_no_column_anywhere(c: char) -> bool {
    let c = u32::from(c);
    ZERO_SINCE_3_2
        .binary_search_by(|&(first, last)| {
            if last < c {
                std::cmp::Ordering::Less
            } else if first > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// The nonspacing and enclosing marks and format characters of Unicode
/// 3.2.0 (general category Mn, Me or Cf) that still are, but for U+00AD
/// and the prepended concatenation marks (which glibc draws 1 column wide),
/// and the conjoining Hangul vowels and final consonants of Unicode 3.2,
/// which join the syllable before them. Made with Python's
/// `unicodedata.ucd_3_2_0` (3.2.0) and `unicodedata` (14.0.0):
///
/// ```text
/// Z = ("Mn", "Me", "Cf"); old = unicodedata.ucd_3_2_0
/// PCM = {0x600, 0x601, 0x602, 0x603, 0x604, 0x605, 0x6DD, 0x70F, 0x890, 0x891, 0x8E2, 0x110BD, 0x110CD}
/// [c for c in range(0x110000) if (old.category(chr(c)) in Z and unicodedata.category(chr(c)) in Z
///  and c != 0xAD and c not in PCM) or (0x1160 <= c <= 0x11FF and old.category(chr(c)) == "Lo")]
/// ```
#[rustfmt::skip]
const ZERO_SINCE_3_2: &[(u32, u32)] = &[
    (0x0300, 0x034F), (0x0360, 0x036F), (0x0483, 0x0486), (0x0488, 0x0489), (0x0591, 0x05A1),
    (0x05A3, 0x05B9), (0x05BB, 0x05BD), (0x05BF, 0x05BF), (0x05C1, 0x05C2), (0x05C4, 0x05C4),
    (0x064B, 0x0655), (0x0670, 0x0670), (0x06D6, 0x06DC), (0x06DF, 0x06E4), (0x06E7, 0x06E8),
    (0x06EA, 0x06ED), (0x0711, 0x0711), (0x0730, 0x074A), (0x07A6, 0x07B0), (0x0901, 0x0902),
    (0x093C, 0x093C), (0x0941, 0x0948), (0x094D, 0x094D), (0x0951, 0x0954), (0x0962, 0x0963),
    (0x0981, 0x0981), (0x09BC, 0x09BC), (0x09C1, 0x09C4), (0x09CD, 0x09CD), (0x09E2, 0x09E3),
    (0x0A02, 0x0A02), (0x0A3C, 0x0A3C), (0x0A41, 0x0A42), (0x0A47, 0x0A48), (0x0A4B, 0x0A4D),
    (0x0A70, 0x0A71), (0x0A81, 0x0A82), (0x0ABC, 0x0ABC), (0x0AC1, 0x0AC5), (0x0AC7, 0x0AC8),
    (0x0ACD, 0x0ACD), (0x0B01, 0x0B01), (0x0B3C, 0x0B3C), (0x0B3F, 0x0B3F), (0x0B41, 0x0B43),
    (0x0B4D, 0x0B4D), (0x0B56, 0x0B56), (0x0B82, 0x0B82), (0x0BC0, 0x0BC0), (0x0BCD, 0x0BCD),
    (0x0C3E, 0x0C40), (0x0C46, 0x0C48), (0x0C4A, 0x0C4D), (0x0C55, 0x0C56), (0x0CBF, 0x0CBF),
    (0x0CC6, 0x0CC6), (0x0CCC, 0x0CCD), (0x0D41, 0x0D43), (0x0D4D, 0x0D4D), (0x0DCA, 0x0DCA),
    (0x0DD2, 0x0DD4), (0x0DD6, 0x0DD6), (0x0E31, 0x0E31), (0x0E34, 0x0E3A), (0x0E47, 0x0E4E),
    (0x0EB1, 0x0EB1), (0x0EB4, 0x0EB9), (0x0EBB, 0x0EBC), (0x0EC8, 0x0ECD), (0x0F18, 0x0F19),
    (0x0F35, 0x0F35), (0x0F37, 0x0F37), (0x0F39, 0x0F39), (0x0F71, 0x0F7E), (0x0F80, 0x0F84),
    (0x0F86, 0x0F87), (0x0F90, 0x0F97), (0x0F99, 0x0FBC), (0x0FC6, 0x0FC6), (0x102D, 0x1030),
    (0x1032, 0x1032), (0x1036, 0x1037), (0x1039, 0x1039), (0x1058, 0x1059), (0x1160, 0x11A2),
    (0x11A8, 0x11F9), (0x1712, 0x1714), (0x1732, 0x1733), (0x1752, 0x1753), (0x1772, 0x1773),
    (0x17B7, 0x17BD), (0x17C6, 0x17C6), (0x17C9, 0x17D3), (0x180B, 0x180E), (0x18A9, 0x18A9),
    (0x200C, 0x200F), (0x202A, 0x202E), (0x2060, 0x2063), (0x206A, 0x206F), (0x20D0, 0x20EA),
    (0x302A, 0x302D), (0x3099, 0x309A), (0xFB1E, 0xFB1E), (0xFE00, 0xFE0F), (0xFE20, 0xFE23),
    (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x1D167, 0x1D169), (0x1D173, 0x1D182), (0x1D185, 0x1D18B),
    (0x1D1AA, 0x1D1AD), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_its_ranges_apart() {
        for pair in ZERO_SINCE_3_2.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 + 1 < pair[1].0, "{pair:x?}");
        }
    }

    #[test]
    fn counts_each_character_at_the_most_a_terminal_draws_it() {
        let width = |c| of(c, 0);
        // Narrow, wide, and ambiguous (as wide).
        assert_eq!((width('a'), width('é'), width('漢'), width('°')), (1, 1, 2, 2));
        // A combining accent and a joiner take no column anywhere.
        assert_eq!((width('\u{301}'), width('\u{200d}')), (0, 0));
        // unicode-width counts these as none: a spacing mark, a prepended
        // concatenation mark, Hangul tone marks (wide), a mark of Unicode 16.
        for c in ['\u{9be}', '\u{605}', '\u{302e}', '\u{1acf}', '\u{200b}'] {
            assert_eq!(c.width_cjk(), Some(0), "{c:?}");
            assert_eq!(width(c), WIDEST, "{c:?}");
            assert!(joins_previous(c), "{c:?}");
        }
        assert_eq!((width('\u{fe0f}'), width('\u{1f1eb}')), (1, 2));
        assert_eq!((of('\t', 0), of('\t', 5), of('\t', 8)), (8, 3, 8));
    }
}
