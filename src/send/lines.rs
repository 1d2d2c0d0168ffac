//! Input framing: splits a byte stream into lines, one per datagram, with bounded memory.

use std::io::{self, BufRead};

/// One line of input, without its `\n` or `\r\n`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// A line that fits the limit: these bytes are sent as they are.
    Fits(&'a [u8]),
    /// A line longer than the limit; only its length is kept.
    TooLong(usize),
}

/// Reads lines of raw bytes (UTF-8 or not) and never holds more than `limit`
/// bytes of one line, however long the line is.
pub(crate) struct LineReader<R> {
    input: R,
    line: Vec<u8>,
    limit: usize,
    /// Bytes the last line took from the input, its line end included.
    read: usize,
    /// The buffer held the whole next line after the last one.
    more_at_hand: bool,
}

/// A line read, and what the input holds after it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LineRead<'a> {
    pub line: Line<'a>,
    /// The buffer holds the whole next line: reading it will not wait.
    /// When not, it may: a person types, a pipe's writer is slow or wrote
    /// a block that ends mid-line.
    pub more_at_hand: bool,
}

impl<R: BufRead> LineReader<R> {
    /// Reads from `input`, calling lines over `limit` bytes [`Line::TooLong`].
    pub fn new(input: R, limit: usize) -> Self {
        LineReader {
            input,
            line: Vec::new(),
            limit,
            read: 0,
            more_at_hand: false,
        }
    }

    /// How many bytes of input the last line took, its line end included
    /// (for progress: compare with a file's size).
    pub fn last_read(&self) -> usize {
        self.read
    }

    /// The next line, or `None` at the end of input. A last line without a
    /// final newline is still a line.
    pub fn next_line(&mut self) -> io::Result<Option<LineRead<'_>>> {
        self.line.clear();
        // Bytes kept: the line up to the limit plus room for "\r\n".
        let keep = self.limit.saturating_add(2);
        let mut total = 0usize;
        let mut ended_by_newline = false;
        let mut before_newline = None;
        let mut last_byte = None;
        loop {
            let available = match self.input.fill_buf() {
                Ok(available) => available,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if available.is_empty() {
                break;
            }
            let (taken, found) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            // The next line is whole in the buffer: a writer's block cut
            // mid-line leaves the rest to a read that may wait.
            self.more_at_hand = available[taken..].contains(&b'\n');
            let chunk = &available[..taken];
            if found {
                // The byte before '\n' may sit at the end of the previous chunk.
                before_newline = if taken >= 2 {
                    Some(chunk[taken - 2])
                } else {
                    last_byte
                };
            }
            last_byte = chunk.last().copied();
            let room = keep.saturating_sub(self.line.len());
            self.line.extend_from_slice(&chunk[..taken.min(room)]);
            total += taken;
            self.input.consume(taken);
            if found {
                ended_by_newline = true;
                break;
            }
        }
        self.read = total;
        if total == 0 {
            return Ok(None);
        }
        let terminator = match (ended_by_newline, before_newline) {
            (false, _) => 0,
            (true, Some(b'\r')) => 2,
            (true, _) => 1,
        };
        let len = total - terminator;
        let line = if len > self.limit {
            Line::TooLong(len)
        } else {
            Line::Fits(&self.line[..len])
        };
        Ok(Some(LineRead {
            line,
            more_at_hand: self.more_at_hand,
        }))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::BufReader;

    /// Every line of `input`, read through a buffer of `capacity` bytes so
    /// lines straddle refills.
    fn lines(input: &[u8], capacity: usize, limit: usize) -> Vec<Result<Vec<u8>, usize>> {
        let mut reader = LineReader::new(BufReader::with_capacity(capacity, input), limit);
        let mut out = Vec::new();
        while let Some(read) = reader.next_line().unwrap() {
            out.push(match read.line {
                Line::Fits(bytes) => Ok(bytes.to_vec()),
                Line::TooLong(len) => Err(len),
            });
        }
        out
    }

    #[test]
    fn reads_lines_with_or_without_a_final_newline_and_tells_when_more_is_at_hand() {
        let mut lines = LineReader::new(&b"hi\r\n\nlast, no newline"[..], 100);
        let read = |line, more_at_hand| Some(LineRead { line, more_at_hand });
        assert_eq!(lines.next_line().unwrap(), read(Line::Fits(b"hi"), true));
        // The next line is in the buffer, but not whole.
        assert_eq!(lines.next_line().unwrap(), read(Line::Fits(b""), false));
        assert_eq!(
            lines.next_line().unwrap(),
            read(Line::Fits(b"last, no newline"), false)
        );
        assert_eq!(lines.next_line().unwrap(), None);
        // A buffer that ends with the line, or holds the next one cut: the next read may wait.
        let mut lines = LineReader::new(BufReader::with_capacity(3, &b"ab\ncd\n"[..]), 100);
        assert_eq!(lines.next_line().unwrap(), read(Line::Fits(b"ab"), false));
        assert_eq!(lines.next_line().unwrap(), read(Line::Fits(b"cd"), false));
        let mut lines = LineReader::new(BufReader::with_capacity(4, &b"a\nb\ncd\n"[..]), 100);
        assert_eq!(lines.next_line().unwrap(), read(Line::Fits(b"a"), true));
        assert_eq!(lines.next_line().unwrap(), read(Line::Fits(b"b"), false));
    }

    #[test]
    fn strips_lf_and_crlf_but_keeps_other_bytes() {
        for capacity in [1, 2, 3, 64] {
            let got = lines(b"a\nb\r\n\r\n\n\xff\xfe\rx\n", capacity, 100);
            let want: Vec<Result<Vec<u8>, usize>> = vec![
                Ok(b"a".to_vec()),
                Ok(b"b".to_vec()),
                Ok(vec![]),
                Ok(vec![]),
                Ok(b"\xff\xfe\rx".to_vec()),
            ];
            assert_eq!(got, want, "capacity {capacity}");
        }
    }

    #[test]
    fn sends_a_last_line_without_newline() {
        assert_eq!(lines(b"a\nb", 4, 10), vec![Ok(b"a".to_vec()), Ok(b"b".to_vec())]);
        assert_eq!(lines(b"", 4, 10), vec![]);
    }

    #[test]
    fn measures_lines_over_the_limit_without_keeping_them() {
        for capacity in [1, 3, 8, 4096] {
            let mut input = vec![b'x'; 20];
            input.extend_from_slice(b"\r\nok\n");
            input.extend(vec![b'y'; 11]);
            input.extend_from_slice(b"\n1234567890\r\n");
            let got = lines(&input, capacity, 10);
            assert_eq!(
                got,
                vec![Err(20), Ok(b"ok".to_vec()), Err(11), Ok(b"1234567890".to_vec())],
                "capacity {capacity}"
            );
        }
    }

    /// Input that fails every other read with `EINTR`, as a read of a
    /// terminal may when a signal arrives.
    struct Interrupting<'a> {
        bytes: &'a [u8],
        interrupt: bool,
    }

    impl io::Read for Interrupting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            io::Read::read(&mut self.bytes, buf)
        }
    }

    #[test]
    fn reads_on_through_interrupted_reads() {
        let input = Interrupting {
            bytes: b"one\r\ntwo\nthree",
            interrupt: false,
        };
        let mut reader = LineReader::new(BufReader::with_capacity(2, input), 10);
        let mut got = Vec::new();
        while let Some(LineRead { line, .. }) = reader.next_line().unwrap() {
            assert!(matches!(line, Line::Fits(_)), "{line:?}");
            if let Line::Fits(bytes) = line {
                got.push(bytes.to_vec());
            }
        }
        assert_eq!(got, [&b"one"[..], b"two", b"three"]);
    }

    #[test]
    fn a_line_of_exactly_the_limit_fits_with_either_terminator() {
        assert_eq!(
            lines(b"12345\r\n12345\n12345", 2, 5),
            vec![Ok(b"12345".to_vec()); 3]
        );
    }

    /// Bytes in which newlines and carriage returns are common, so lines are many,
    /// empty, `\r\n`-ended or `\r`-ended: the cases framing gets wrong.
    pub(crate) fn stream() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            3 => Just(b'\n'),
            2 => Just(b'\r'),
            10 => any::<u8>(),
        ];
        prop::collection::vec(byte, 0..400)
    }

    /// What a line reader must make of `input`, written as plainly as possible:
    /// split at each `\n`; a piece ended by `\n` loses one `\r` before it; the
    /// piece after a final `\n` is no line; pieces over `limit` are only measured.
    pub(crate) fn reference_lines(input: &[u8], limit: usize) -> Vec<Result<Vec<u8>, usize>> {
        let mut pieces: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        let last = pieces.pop().unwrap_or_default();
        let mut lines: Vec<&[u8]> = pieces
            .into_iter()
            .map(|piece| piece.strip_suffix(b"\r").unwrap_or(piece))
            .collect();
        if !last.is_empty() {
            lines.push(last);
        }
        lines
            .into_iter()
            .map(|line| {
                if line.len() > limit {
                    Err(line.len())
                } else {
                    Ok(line.to_vec())
                }
            })
            .collect()
    }

    proptest! {
        #[test]
        fn any_byte_stream_splits_into_the_reference_lines(
            input in stream(),
            capacity in 1usize..64,
            limit in 0usize..40,
        ) {
            prop_assert_eq!(lines(&input, capacity, limit), reference_lines(&input, limit));
        }

        #[test]
        fn lines_joined_with_lf_or_crlf_read_back_unchanged(
            lines_in in prop::collection::vec(
                prop::collection::vec(any::<u8>(), 0..50)
                    .prop_map(|line| line.into_iter().filter(|&b| b != b'\n').collect::<Vec<u8>>())
                    .prop_filter("a line ending in \\r before \\n is a CRLF", |line| line.last() != Some(&b'\r')),
                0..20,
            ),
            crlf in prop::collection::vec(any::<bool>(), 20),
            final_newline in any::<bool>(),
            capacity in 1usize..64,
        ) {
            let mut input = Vec::new();
            for (i, line) in lines_in.iter().enumerate() {
                input.extend_from_slice(line);
                let last = i + 1 == lines_in.len();
                if !last || final_newline {
                    input.extend_from_slice(if crlf[i] { b"\r\n" } else { b"\n" });
                }
            }
            let mut expected: Vec<Result<Vec<u8>, usize>> = lines_in.iter().cloned().map(Ok).collect();
            // Without a final newline, an empty last line is no bytes at all.
            if !final_newline && lines_in.last().is_some_and(Vec::is_empty) {
                expected.pop();
            }
            prop_assert_eq!(lines(&input, capacity, crate::net::MAX_PAYLOAD_V4), expected);
        }
    }
}
