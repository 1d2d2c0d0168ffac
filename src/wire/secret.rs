//! The shared secret of a secured chat: generated, or derived from a passphrase; zeroized when dropped.
//!
//! A generated secret is 32 random bytes written as `udpchat1-` and 52
//! base32 characters in groups of four, easy to read out or copy; it is the
//! key itself. Anything else is a passphrase, and the key is derived from it
//! with Argon2id (RFC 9106's second recommended parameters: 64 MiB, three
//! passes, four lanes), so each guess at a weak passphrase costs an attacker
//! that much too. Both ends must derive the same key without talking, so the
//! salt is fixed: one guess tests a passphrase against every chat that uses it.
//! A passphrase is Unicode-normalised (NFC) first, so that the same words
//! typed on two systems, which may encode an accented letter differently,
//! give the same key.

use std::fmt;
use std::path::Path;

use log::{info, warn};
use zeroize::Zeroizing;

use crate::Error;

/// The key's length: XChaCha20-Poly1305 takes 256 bits.
pub(crate) const KEY_LEN: usize = 32;

/// What a generated secret starts with: its text form, version 1 (not the
/// datagrams' format, which has versions of its own).
const GENERATED_PREFIX: &str = "udpchat1-";

/// What every generated secret starts with, whatever its version: `udpchat`,
/// digits, a dash. A text that starts so is meant as one, never a passphrase.
const GENERATED_STEM: &str = "udpchat";

/// Argon2id's cost for a passphrase: RFC 9106, section 4, the second
/// recommended option (for when the first one's 2 GiB is too much).
const KDF_MEMORY_KIB: u32 = 64 * 1024;
const KDF_PASSES: u32 = 3;
const KDF_LANES: u32 = 4;

/// Argon2's salt for a passphrase. Fixed, because both ends must derive the
/// same key from the passphrase alone.
const KDF_SALT: &[u8; 16] = b"udpchat-secret-1";

/// RFC 4648's base32 alphabet: no 0, 1, 8 or 9, so nothing reads as O, I or B.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A secured chat's shared secret. Everyone who holds the same one can read
/// and write the chat; nobody else can do either. Its key is wiped from
/// memory when the last copy is dropped, and `Debug` never shows it.
///
/// ```
/// use udpchat::Secret;
///
/// let secret = Secret::generate()?;
/// let text = secret.to_text();
/// assert!(text.starts_with("udpchat1-"));
/// assert_eq!(Secret::from_text(&text)?, secret);
/// # Ok::<(), udpchat::Error>(())
/// ```
#[derive(Clone)]
pub struct Secret {
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl Secret {
    /// A fresh random secret, from the operating system's generator.
    pub fn generate() -> Result<Secret, Error> {
        let mut key = Zeroizing::new([0; KEY_LEN]);
        getrandom::fill(&mut key[..]).map_err(|err| Error::Io {
            op: "get random bytes for a secret",
            source: err.into(),
        })?;
        Ok(Secret { key })
    }

    /// A secret as a person gives it: a generated one (`udpchat1-...`, any
    /// case, dashes and spaces ignored), or else a passphrase, whose key
    /// Argon2id derives from its NFC form (a fraction of a second, and
    /// 64 MiB while it runs). A byte order mark before it and whitespace
    /// around it are not part of it. Empty,
    /// or one that starts like a generated secret (`udpchat`, digits, a
    /// dash) but is not one, is [`Error::Secret`]; a passphrase that starts
    /// with `udpchat` otherwise is warned about (a typo in a generated
    /// secret?); Argon2's own failure (memory) is [`Error::Derive`].
    pub fn from_text(text: &str) -> Result<Secret, Error> {
        // A byte order mark is how some editors (Windows' Notepad) start a
        // UTF-8 file, not text: kept, it would make a passphrase of a
        // generated secret, and another key.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text).trim();
        if text.is_empty() {
            return Err(Error::Secret {
                origin: None,
                problem: "it is empty",
            });
        }
        if let Some(rest) = generated_rest(text) {
            return decode_generated(rest);
        }
        if starts_with_stem(text) {
            // A passphrase may start so ("udpchatty"), but a generated
            // secret typed with a space for its dash, or an l for its 1,
            // does too, and would give another key without a word.
            warn!(
                "the secret starts with udpchat but is not a generated secret (udpchat1- and 52 \
                 letters and digits): it is taken as a passphrase; if it was meant as a \
                 generated secret, it has a typo"
            );
        }
        Secret::from_passphrase(text)
    }

    /// The secret in a file, as [`from_text`](Self::from_text) reads it.
    /// A file that is missing, unreadable, not UTF-8 or empty is
    /// [`Error::SecretFile`] or [`Error::Secret`]. On Unix, a file that other
    /// users may read is used but warned about, as ssh does for keys.
    pub fn from_file(path: &Path) -> Result<Secret, Error> {
        let fail = |source| Error::SecretFile {
            path: path.to_owned(),
            source,
        };
        let bytes = read_bounded(path).map_err(fail)?;
        warn_if_others_can_read(path);
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            fail(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not UTF-8 text",
            ))
        })?;
        Secret::from_text(text).map_err(|err| match err {
            Error::Secret { problem, .. } => Error::Secret {
                origin: Some(path.display().to_string()),
                problem,
            },
            other => other,
        })
    }

    /// The generated form, `udpchat1-XXXX-XXXX-...`, that
    /// [`from_text`](Self::from_text) reads back. For a secret derived from
    /// a passphrase it is the derived key, which works the same.
    pub fn to_text(&self) -> Zeroizing<String> {
        // Room for it all at once: a String that grew would leave copies of
        // the key behind in the buffers it outgrew, where zeroizing never reaches.
        let mut text = Zeroizing::new(String::with_capacity(GENERATED_PREFIX.len() + 52 + 12));
        text.push_str(GENERATED_PREFIX);
        for (i, c) in base32(&self.key[..]).iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                text.push('-');
            }
            text.push(char::from(*c));
        }
        text
    }

    /// A secret with this key, for tests and fuzz targets that must not wait for Argon2.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn from_key(key: [u8; KEY_LEN]) -> Secret {
        Secret {
            key: Zeroizing::new(key),
        }
    }

    /// The key, for the cipher.
    pub(crate) fn key(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    fn from_passphrase(passphrase: &str) -> Result<Secret, Error> {
        use argon2::{Algorithm, Argon2, Params, Version};
        use unicode_normalization::UnicodeNormalization;
        info!("deriving the key from the passphrase (Argon2id, 64 MiB, 3 passes)");
        // Room for it all at once, so that no outgrown buffer keeps a copy:
        // NFC makes a text at most three times as long (UAX #15).
        let mut normalized = Zeroizing::new(String::with_capacity(passphrase.len() * 3));
        normalized.extend(passphrase.nfc());
        let params = Params::new(KDF_MEMORY_KIB, KDF_PASSES, KDF_LANES, Some(KEY_LEN))
            .expect("the parameters are within Argon2's limits");
        let mut key = Zeroizing::new([0; KEY_LEN]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(normalized.as_bytes(), KDF_SALT, &mut key[..])
            .map_err(|err| Error::Derive {
                problem: match err {
                    argon2::Error::OutOfMemory => "could not get Argon2's 64 MiB of memory",
                    argon2::Error::PwdTooLong => "the passphrase is longer than Argon2 takes",
                    _ => "Argon2 failed (a defect in udpchat: please report it)",
                },
            })?;
        Ok(Secret { key })
    }
}

/// Compared in time that does not depend on where two keys differ.
impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        let differ = self
            .key
            .iter()
            .zip(other.key.iter())
            .fold(0, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(differ) == 0
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The longest secret file read: a passphrase is a line, not a document,
/// and a path such as /dev/zero must not fill memory.
const MAX_FILE: usize = 64 * 1024;

/// Reads a secret file into a buffer of its own size, allocated once (a
/// growing Vec, as for a pipe, would leave unwiped copies behind). Only a
/// regular file: a FIFO with no writer would block for ever, and a device
/// or a directory is never a secret.
fn read_bounded(path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    use std::io::Read;
    let mut file = open_regular(path)?;
    let mut bytes = Zeroizing::new(vec![0; MAX_FILE + 1]);
    let mut len = 0;
    while len < bytes.len() {
        match file.read(&mut bytes[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    if len > MAX_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("longer than {MAX_FILE} bytes: not a secret"),
        ));
    }
    bytes.truncate(len);
    Ok(bytes)
}

/// Opens `path` for reading if it is a regular file (after symbolic links),
/// else fails saying what it is. The file is opened first, without waiting
/// (a FIFO opens at once that way), and then looked at, so that nothing can
/// be swapped in between.
fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits());
    }
    // A directory cannot be opened on Windows: ask the path first there.
    let metadata = std::fs::metadata(path)?;
    let file = if metadata.is_dir() {
        None
    } else {
        Some(options.open(path)?)
    };
    let metadata = match &file {
        Some(file) => file.metadata()?,
        None => metadata,
    };
    match (file, kind_of(&metadata)) {
        (Some(file), None) => Ok(file),
        (_, kind) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "it is {}, not a regular file; a secret is read from a file \
                 (from a program: UDPCHAT_SECRET=\"$(command)\")",
                kind.unwrap_or("not a regular file")
            ),
        )),
    }
}

/// What a file that is not a regular file is, in words; `None` for a regular one.
fn kind_of(metadata: &std::fs::Metadata) -> Option<&'static str> {
    if metadata.is_file() {
        return None;
    }
    if metadata.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = metadata.file_type();
        if kind.is_fifo() {
            return Some("a FIFO (a named pipe)");
        }
        if kind.is_char_device() || kind.is_block_device() {
            return Some("a device");
        }
        if kind.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a regular file")
}

/// The text after a generated secret's prefix, if `text` is meant as a
/// generated secret (it starts with `udpchat`, digits and a dash, in any
/// case); an error if it is one of another version.
fn generated_rest(text: &str) -> Option<Result<&str, Error>> {
    if !starts_with_stem(text) {
        return None;
    }
    let bytes = text.as_bytes();
    let stem = &bytes[..GENERATED_STEM.len()];
    let digits = bytes[stem.len()..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let dash = stem.len() + digits;
    if bytes.get(dash) != Some(&b'-') {
        return None;
    }
    let problem = match &bytes[stem.len()..dash] {
        b"1" => return Some(Ok(&text[dash + 1..])),
        b"" => {
            "it starts like a generated secret but has no version (udpchat-): \
             a generated secret starts with udpchat1-"
        }
        _ => {
            "it starts like a generated secret of another version (udpchat2- or the like): \
             this udpchat reads those that start with udpchat1- (a typo, or a newer udpchat's?)"
        }
    };
    Some(Err(Error::Secret {
        origin: None,
        problem,
    }))
}

/// Whether `text` starts with `udpchat`, in any case, as every generated
/// secret does. Compared as bytes: a passphrase may have a multibyte
/// character where the stem ends, and slicing the text there would panic.
fn starts_with_stem(text: &str) -> bool {
    text.as_bytes()
        .get(..GENERATED_STEM.len())
        .is_some_and(|stem| stem.eq_ignore_ascii_case(GENERATED_STEM.as_bytes()))
}

/// The 52 base32 characters after the prefix, dashes and spaces aside.
fn decode_generated(text: Result<&str, Error>) -> Result<Secret, Error> {
    let text = text?;
    let malformed = |problem| Error::Secret {
        origin: None,
        problem,
    };
    let mut key = Zeroizing::new([0; KEY_LEN]);
    let mut bits: u64 = 0;
    let mut count = 0u32;
    let mut written = 0;
    let mut digits = 0;
    for byte in text.bytes().filter(|b| !matches!(b, b'-' | b' ')) {
        let value = BASE32
            .iter()
            .position(|&c| c == byte.to_ascii_uppercase())
            .ok_or(malformed(
                "it starts like a generated secret (udpchat1-) but is not one: it holds a character \
                 that is not a letter A-Z or a digit 2-7 (0, 1, 8 and 9 are never used)",
            ))?;
        digits += 1;
        bits = (bits << 5) | value as u64;
        count += 5;
        if count >= 8 {
            count -= 8;
            if written == KEY_LEN {
                return Err(malformed(TOO_MANY));
            }
            key[written] = (bits >> count) as u8;
            written += 1;
        }
    }
    // 52 digits carry 260 bits: the key's 256, and four that must be 0.
    if digits > 52 {
        return Err(malformed(TOO_MANY));
    }
    if digits < 52 || written != KEY_LEN {
        return Err(malformed(
            "it starts like a generated secret (udpchat1-) but is not one: it has fewer than \
             the 52 letters and digits after udpchat1- (cut short?)",
        ));
    }
    if bits & ((1 << count) - 1) != 0 {
        return Err(malformed(
            "it starts like a generated secret (udpchat1-) but is not one: its last digit is not \
             one a generated secret ends with (A or Q): a typo?",
        ));
    }
    Ok(Secret { key })
}

const TOO_MANY: &str = "it starts like a generated secret (udpchat1-) but is not one: it has more than \
                        the 52 letters and digits after udpchat1-";

/// RFC 4648 base32 without padding.
fn base32(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len().div_ceil(5) * 8));
    let (mut bits, mut count) = (0u64, 0u32);
    for &byte in bytes {
        bits = (bits << 8) | u64::from(byte);
        count += 8;
        while count >= 5 {
            count -= 5;
            out.push(BASE32[((bits >> count) & 31) as usize]);
        }
    }
    if count > 0 {
        out.push(BASE32[((bits << (5 - count)) & 31) as usize]);
    }
    out
}

/// Warns when users other than the owner may read the file, as ssh does
/// for private keys. Windows' permissions are ACLs, and not checked.
fn warn_if_others_can_read(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path) {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                warn!(
                    "the secret file {} can be read by other users (mode {mode:03o}): \
                     anyone who reads it can read and write your chats; chmod 600 it",
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_reads_back_in_any_case_with_or_without_dashes() {
        let secret = Secret::generate().unwrap();
        let text = secret.to_text();
        assert_eq!(text.len(), "udpchat1-".len() + 52 + 12, "{}", *text);
        assert_eq!(Secret::from_text(&text).unwrap(), secret);
        assert_eq!(Secret::from_text(&text.to_lowercase()).unwrap(), secret);
        let undashed = format!("  udpchat1-{}\n", text["udpchat1-".len()..].replace('-', " "));
        assert_eq!(Secret::from_text(&undashed).unwrap(), secret);
        assert_ne!(Secret::generate().unwrap(), secret);
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_a_secret() {
        // As Windows' Notepad saves a file: a BOM first, CRLF at the end.
        let secret = Secret::generate().unwrap();
        let saved = format!("\u{feff}{}\r\n", *secret.to_text());
        assert_eq!(Secret::from_text(&saved).unwrap(), secret);
    }

    #[test]
    fn reads_the_protocol_documents_example() {
        let example = "udpchat1-AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQT-CQKR-MFYY-DENB-WHA5-DYPQ";
        let key: [u8; KEY_LEN] = std::array::from_fn(|i| i as u8);
        assert_eq!(Secret::from_text(example).unwrap().key(), &key);
        assert_eq!(*Secret::from_key(key).to_text(), example);
    }

    #[test]
    fn encodes_the_key_as_rfc_4648_base32() {
        assert_eq!(&base32(b"foobar")[..], b"MZXW6YTBOI");
        let key = Secret {
            key: Zeroizing::new([0xff; KEY_LEN]),
        };
        assert_eq!(
            *key.to_text(),
            "udpchat1-7777-7777-7777-7777-7777-7777-7777-7777-7777-7777-7777-7777-777Q"
        );
    }

    #[test]
    fn refuses_a_mistyped_generated_secret_instead_of_taking_it_for_a_passphrase() {
        let text = Secret::generate().unwrap().to_text();
        for bad in [
            format!("{}0", &text[..text.len() - 1]), // 0 is not base32
            text[..text.len() - 1].to_owned(),       // a digit short
            format!("{}A", *text),                   // a digit too many
            format!("{}7", &text[..text.len() - 1]), // the last digit's spare bits set
        ] {
            let err = Secret::from_text(&bad).unwrap_err();
            assert!(matches!(err, Error::Secret { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn names_what_is_wrong_with_a_text_that_starts_like_a_generated_secret() {
        let text = Secret::generate().unwrap().to_text();
        let digits = &text["udpchat1-".len()..];
        for (bad, expected) in [
            (
                format!("udpchat2-{digits}"),
                "of another version (udpchat2- or the like)",
            ),
            (format!("UDPCHAT12-{digits}"), "of another version"),
            (format!("udpchat-{digits}"), "has no version (udpchat-)"),
            (format!("udpchat1-{}", &digits[1..]), "fewer than the 52"),
            (format!("udpchat1-{digits}A"), "more than the 52"),
            (
                format!(
                    "udpchat1-{}",
                    digits.replacen(|c: char| c.is_ascii_alphabetic(), "1", 1)
                ),
                "not a letter A-Z or a digit 2-7",
            ),
        ] {
            match Secret::from_text(&bad) {
                Err(Error::Secret { problem, .. }) => assert!(problem.contains(expected), "{bad}: {problem}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_passphrase_with_a_multibyte_character_where_the_prefix_ends_is_a_passphrase() {
        // Each is a passphrase; none may panic (a panic would print it).
        for passphrase in [
            "abcdefgé",
            "abcdefghé",
            "abcdefghié",
            "udpchat1é",
            "ééééé",
            "udpchat",
            "udpchatty-me",
        ] {
            assert!(Secret::from_text(passphrase).is_ok(), "{passphrase}");
        }
    }

    #[test]
    fn an_empty_secret_is_refused() {
        for empty in ["", " \n", "\r\n"] {
            assert!(matches!(
                Secret::from_text(empty),
                Err(Error::Secret {
                    problem: "it is empty",
                    ..
                })
            ));
        }
    }

    #[test]
    fn derives_the_same_key_from_the_same_passphrase_and_another_from_another() {
        // The one slow test here: three Argon2id derivations of 64 MiB. The
        // key is docs/PROTOCOL.md's, which argon2-cffi (libargon2) derives too.
        let a = Secret::from_text("correct horse battery staple").unwrap();
        let hex: String = a.key().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "7004f26970e8eb444fe87cefb5851701666ce7981c42fca3a5560a9a823c16fb"
        );
        assert_eq!(Secret::from_text("  correct horse battery staple\n").unwrap(), a);
        // As Windows' Notepad saves a file: a BOM first, CRLF at the end.
        assert_eq!(
            Secret::from_text("\u{feff}correct horse battery staple\r\n").unwrap(),
            a
        );
        assert_ne!(Secret::from_text("correct horse battery stapler").unwrap(), a);
    }

    #[test]
    fn a_passphrase_typed_with_combining_accents_is_the_same_passphrase() {
        // docs/PROTOCOL.md's vector, which argon2-cffi and the argon2 CLI
        // (libargon2) derive from the NFC bytes too.
        let nfc = Secret::from_text("caf\u{e9} cr\u{e8}me").unwrap();
        let hex: String = nfc.key().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "03cf29f37c868e4b374646944bc96ee603dfe65a280c7510ac32fa079bbe3ca1"
        );
        assert_eq!(Secret::from_text("cafe\u{301} cre\u{300}me").unwrap(), nfc);
    }

    #[test]
    fn never_shows_the_key_in_debug_output() {
        let secret = Secret {
            key: Zeroizing::new([0x41; KEY_LEN]),
        };
        assert_eq!(format!("{secret:?}"), "Secret(..)");
    }
}
