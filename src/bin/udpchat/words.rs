//! Numbers in words for the binary's messages: `1 line`, `2 lines`.

/// `1 received line`, `2 received lines`: a number and what it counts.
pub fn count(number: u64, noun: &str) -> String {
    let s = if number == 1 { "" } else { "s" };
    format!("{number} {noun}{s}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_read_as_english_for_one_and_for_many() {
        assert_eq!(super::count(0, "line"), "0 lines");
        assert_eq!(super::count(1, "received line"), "1 received line");
        assert_eq!(super::count(2, "log line"), "2 log lines");
    }
}
