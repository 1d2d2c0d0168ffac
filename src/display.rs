//! How one received datagram is shown: bytes in, one line of text out, no I/O.

use std::io::Write;
use std::net::SocketAddr;

/// Appends `datagram` to `out` as one line of text, after `<ADDR> ` when a
/// sender is given (`--show-sender`, or a stranger's datagram).
///
/// One trailing `\n` or `\r\n` is dropped first, because `nc -u` and `socat`
/// send a line with its newline and the line should not be followed by a blank
/// one. Bytes that are not UTF-8 become U+FFFD, as `String::from_utf8_lossy`
/// does, but without allocating: this runs once per datagram.
///
/// ```
/// let mut out = Vec::new();
/// let from = "192.168.1.6:2323".parse().unwrap();
/// udpchat::display::push_line(b"hi from nc\r\n", None, &mut out);
/// udpchat::display::push_line(b"caf\xe9", Some(&from), &mut out);
/// assert_eq!(out, "hi from nc\n<192.168.1.6:2323> caf\u{fffd}\n".as_bytes());
/// ```
pub fn push_line(datagram: &[u8], sender: Option<&SocketAddr>, out: &mut Vec<u8>) {
    if let Some(sender) = sender {
        // Writing to a Vec cannot fail.
        let _ = write!(out, "<{sender}> ");
    }
    let text = strip_newline(datagram);
    for chunk in text.utf8_chunks() {
        out.extend_from_slice(chunk.valid().as_bytes());
        if !chunk.invalid().is_empty() {
            out.extend_from_slice(char::REPLACEMENT_CHARACTER.encode_utf8(&mut [0; 4]).as_bytes());
        }
    }
    out.push(b'\n');
}

/// `datagram` without one trailing `\n` or `\r\n`.
pub fn strip_newline(datagram: &[u8]) -> &[u8] {
    let text = datagram.strip_suffix(b"\n").unwrap_or(datagram);
    if text.len() < datagram.len() {
        text.strip_suffix(b"\r").unwrap_or(text)
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(datagram: &[u8]) -> String {
        let mut out = Vec::new();
        push_line(datagram, None, &mut out);
        String::from_utf8(out).expect("output is always UTF-8")
    }

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
    fn keeps_a_lone_carriage_return() {
        assert_eq!(shown(b"a\r"), "a\r\n");
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
    fn labels_a_line_with_its_sender() {
        let mut out = Vec::new();
        push_line(b"hi", Some(&"[::1]:9".parse().unwrap()), &mut out);
        assert_eq!(out, b"<[::1]:9> hi\n");
    }

    #[test]
    fn keeps_non_ascii_text() {
        assert_eq!(shown("héllo, 世界".as_bytes()), "héllo, 世界\n");
    }
}
