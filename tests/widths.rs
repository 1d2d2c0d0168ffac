//! Characters whose width terminals disagree about, shown at a real terminal: no line wraps where udpchat did not cut it, so no row passes for another line's.
//!
//! udpchat cuts received lines into rows by its own measure of each
//! character; where that measure fell short of the terminal's, the terminal
//! wrapped the row and the rest started a row of its own, unlabelled. This
//! test computes every code point on which `unicode-width` (the measure
//! udpchat's rows were cut by) and glibc's `wcwidth` (C.UTF-8, the table
//! tmux draws with here) disagree, shows each at a terminal in tmux, with
//! labels and without, with the line editor and with `TERM=dumb`, and reads
//! the screen back: every row must start a line (its labels, or the tag
//! this test puts first) or go on with the one above after udpchat's mark.

// Linux: glibc's wcwidth, and tmux.
#![cfg(all(feature = "cli", target_os = "linux"))]

mod common;

use std::time::Instant;

use common::{Tmux, loopback_socket};
use unicode_width::UnicodeWidthChar;

/// What starts each row of a received line after its first.
const CONTINUATION: &str = "\u{21b3} ";

/// How often a character udpchat may count narrower than the terminal draws
/// it is repeated: a few columns short per copy are then too many for the
/// free last column of a row to hide.
const RISKY_COPIES: usize = 8;

/// The width udpchat measured a character by before it took the widest a
/// terminal draws: `unicode-width`, ambiguous characters as wide.
fn unicode_width(c: char) -> i32 {
    match c {
        ' '..='~' => 1,
        _ => c.width_cjk().map_or(1, |width| width as i32),
    }
}

/// glibc's `wcwidth` in the C.UTF-8 locale, for this thread only; `None`
/// where the system has no such locale.
struct Glibc {
    ours: libc::locale_t,
    before: libc::locale_t,
}

impl Glibc {
    fn new() -> Option<Glibc> {
        // SAFETY: newlocale with a valid C string; a null result is checked.
        let locale =
            unsafe { libc::newlocale(libc::LC_CTYPE_MASK, c"C.UTF-8".as_ptr(), std::ptr::null_mut()) };
        if locale.is_null() {
            return None;
        }
        // SAFETY: a locale just made; this thread alone uses it.
        let before = unsafe { libc::uselocale(locale) };
        Some(Glibc { ours: locale, before })
    }

    fn wcwidth(&self, c: char) -> i32 {
        unsafe extern "C" {
            fn wcwidth(c: libc::wchar_t) -> libc::c_int;
        }
        // SAFETY: wcwidth reads the thread's locale, set in `new`.
        unsafe { wcwidth(c as libc::wchar_t) }
    }
}

impl Drop for Glibc {
    fn drop(&mut self) {
        // SAFETY: back to the locale before, then the one made in `new` freed.
        unsafe {
            libc::uselocale(self.before);
            libc::freelocale(self.ours);
        }
    }
}

/// A code point the two measures disagree on.
struct Disagreement {
    c: char,
    unicode_width: i32,
    /// -1: glibc does not know it (not assigned in its version of Unicode);
    /// tmux draws such a character one column wide.
    glibc: i32,
}

impl Disagreement {
    /// udpchat's old measure was short of what the terminal may draw.
    fn risky(&self) -> bool {
        self.glibc > self.unicode_width || (self.glibc < 0 && self.unicode_width == 0)
    }
}

/// Every scalar value but the controls (always escaped, see
/// `tests/terminal.rs`) on which the two measures disagree, those glibc
/// does not know (-1) included.
fn disagreements(glibc: &Glibc) -> Vec<Disagreement> {
    (0..=u32::from(char::MAX))
        .filter_map(char::from_u32)
        .filter(|c| !c.is_control())
        .filter_map(|c| {
            let (unicode_width, glibc) = (unicode_width(c), glibc.wcwidth(c));
            (glibc != unicode_width).then_some(Disagreement {
                c,
                unicode_width,
                glibc,
            })
        })
        .collect()
}

/// The lines to send: each starts with a tag `#NNNNN` and ends with
/// `#NNNNN.`, and holds characters in between: first those udpchat once
/// counted short, [`RISKY_COPIES`] times each and on lines of their own (a
/// row of them is short by many columns, not made up for by characters
/// counted wide), then the others once each.
fn lines_holding(disagreements: &[Disagreement]) -> Vec<String> {
    let mut texts = Vec::new();
    for risky in [true, false] {
        let mut text = String::new();
        let mut characters = 0;
        for disagreement in disagreements.iter().filter(|d| d.risky() == risky) {
            let copies = if risky { RISKY_COPIES } else { 1 };
            for _ in 0..copies {
                text.push(disagreement.c);
            }
            characters += copies;
            if characters >= 240 {
                texts.push(std::mem::take(&mut text));
                characters = 0;
            }
        }
        if !text.is_empty() {
            texts.push(text);
        }
    }
    texts
        .into_iter()
        .enumerate()
        .map(|(i, text)| format!("#{i:05} {text} #{i:05}."))
        .collect()
}

#[test]
fn no_character_terminals_disagree_about_lets_a_row_start_that_is_not_its_lines() {
    let Some(glibc) = Glibc::new() else {
        assert!(std::env::var_os("CI").is_none(), "no C.UTF-8 locale");
        eprintln!("skipped: no C.UTF-8 locale to ask glibc's wcwidth in");
        return;
    };
    let disagreements = disagreements(&glibc);
    drop(glibc);
    let risky = disagreements.iter().filter(|d| d.risky()).count();
    let unknown = disagreements.iter().filter(|d| d.glibc < 0).count();
    let unknown_risky = disagreements.iter().filter(|d| d.glibc < 0 && d.risky()).count();
    eprintln!(
        "{} code points where unicode-width and glibc's wcwidth disagree: {risky} that \
         unicode-width counts narrower than a terminal may draw ({unknown_risky} of them unknown \
         to glibc, which tmux draws 1 column wide), {} that it counts wider, and {} unknown to \
         glibc that it counts 1 or 2",
        disagreements.len(),
        disagreements.len() - risky - (unknown - unknown_risky),
        unknown - unknown_risky,
    );
    // What the list holds today (glibc 2.36, unicode-width 0.2): a measure
    // that stopped disagreeing would leave this test nothing to show.
    assert!(risky > 50, "{risky}");
    for c in ['\u{3164}', '\u{ffa0}', '\u{ad}', '\u{9be}', '\u{302e}'] {
        assert!(disagreements.iter().any(|d| d.c == c && d.risky()), "{c:?}");
    }
    let lines = lines_holding(&disagreements);
    const DUMB: &[(&str, &str)] = &[("TERM", "dumb")];
    for (env, labelled) in [(&[][..], true), (&[][..], false), (DUMB, true), (DUMB, false)] {
        let started = Instant::now();
        show_at_a_terminal(&lines, env, labelled);
        eprintln!(
            "{} lines, {env:?}, labelled: {labelled}: checked in {:?}",
            lines.len(),
            started.elapsed()
        );
    }
}

/// Sends `lines` to udpchat at a terminal with `env`, with labels (a time
/// and the sender) or none, and checks every row it shows.
fn show_at_a_terminal(lines: &[String], env: &[(&str, &str)], labelled: bool) {
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap().to_string();
    let mut args = vec!["-b", "127.0.0.1:0"];
    if labelled {
        args.extend(["--timestamps", "--show-sender"]);
    }
    args.push(&peer_addr);
    let Some(tmux) = Tmux::start(&args, env) else {
        return;
    };
    let prompt = format!("to {peer_addr}>");
    tmux.wait_for("prompt", |screen| screen.contains(&prompt));
    let to = tmux.bound_addr();
    // A few lines at a time, each batch shown before the next is sent, so
    // that none is dropped for want of room on the way.
    for chunk in lines.chunks(16) {
        for line in chunk {
            peer.send_to(line.as_bytes(), to).unwrap();
        }
        let end = chunk.last().unwrap();
        let end = &end[end.len() - "#00000.".len()..];
        tmux.wait_for("the last line sent", |screen| rejoined(screen).contains(end));
    }
    let history = tmux.history();
    let rows: Vec<&str> = history
        .lines()
        .map(str::trim_end)
        .filter(|row| !row.is_empty())
        .collect();
    // The terminal wrapped no row: joined where it wrapped, the rows are the same.
    let joined = tmux.history_joined();
    let joined_rows = joined.lines().filter(|row| !row.trim_end().is_empty()).count();
    assert_eq!(
        joined_rows,
        rows.len(),
        "{env:?}, labelled: {labelled}: the terminal wrapped rows itself"
    );
    let label = format!("<{peer_addr}> ");
    let mut expected_tag = 0;
    let mut in_a_line = false;
    for (at, row) in rows.iter().enumerate() {
        let around = || rows[at.saturating_sub(3)..rows.len().min(at + 3)].join("\n");
        if *row == prompt {
            in_a_line = false;
            continue;
        }
        // (Trimmed: what follows the mark may be characters the terminal draws as nothing.)
        if row.starts_with(CONTINUATION.trim_end()) {
            assert!(
                row.starts_with(CONTINUATION) || *row == CONTINUATION.trim_end(),
                "{env:?}: {row:?}"
            );
            assert!(in_a_line, "{env:?}: a mark with no line above:\n{}", around());
            continue;
        }
        let text = if labelled {
            let rest = without_time(row);
            rest.strip_prefix(&label)
                .unwrap_or_else(|| panic!("{env:?}: a row with neither labels nor the mark:\n{}", around()))
        } else {
            row
        };
        // The tag, then a space or the end of the row (the characters after
        // the space may take it to the next row with them).
        let tag = format!("#{expected_tag:05}");
        assert!(
            text.strip_prefix(&tag)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(' ')),
            "{env:?}, labelled: {labelled}: a row that neither starts line {tag} nor goes on with one:\n{}",
            around()
        );
        expected_tag += 1;
        in_a_line = true;
    }
    assert_eq!(expected_tag, lines.len(), "{env:?}: lines shown");
}

/// `screen` with each row that goes on with the one above joined to it.
fn rejoined(screen: &str) -> String {
    let mut text = String::new();
    for row in screen.lines().map(str::trim_end) {
        match row.strip_prefix(CONTINUATION) {
            Some(rest) => text.push_str(rest),
            None => {
                text.push('\n');
                text.push_str(row);
            }
        }
    }
    text
}

/// `row` without the clock time that starts it (`10:15:03 `), if it does.
fn without_time(row: &str) -> &str {
    let is_time = row.len() > 9
        && row.as_bytes()[..8].iter().enumerate().all(|(i, b)| {
            if i % 3 == 2 {
                *b == b':'
            } else {
                b.is_ascii_digit()
            }
        })
        && row.as_bytes()[8] == b' ';
    if is_time { &row[9..] } else { row }
}
