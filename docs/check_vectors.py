#!/usr/bin/env python3
"""Builds docs/PROTOCOL.md's test vectors for the secured format, version 2,
from the document alone, with libsodium (PyNaCl) and libargon2 (argon2-cffi):
implementations independent of udpchat's RustCrypto. Prints each vector in
hex; the unit tests in src/wire/sealed.rs and src/wire/secret.rs hold the
same values. Debian: apt-get install python3-nacl python3-argon2."""
import ipaddress
import struct
import unicodedata

from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt as seal

KEY = bytes(range(32))


def header(kind, nonce, session, started, sequence, sent, to_ip, to_port):
    ip = ipaddress.ip_address(to_ip)
    if ip.version == 4:
        ip = ipaddress.IPv6Address("::ffff:" + to_ip)
    return (bytes([2, kind, 0]) + nonce
            + struct.pack(">QQQQ", session, started, sequence, sent)
            + ip.packed + struct.pack(">H", to_port))


def sealed(head, body):
    # libsodium returns the ciphertext with the 16-byte tag appended.
    return head + seal(body, head, head[3:27], KEY)


line = header(0, bytes(range(0x40, 0x58)), 0x0123456789ABCDEF,
              1795515303000, 7, 1795515303120, "192.168.1.6", 2323)
end = header(1, bytes(range(0x60, 0x78)), 0x0123456789ABCDEF,
             1795515303000, 8, 1795515304000, "192.168.1.6", 2323)
print("line:", sealed(line, b"hello").hex())
print("end: ", sealed(end, b"").hex())

# Reliable delivery: a kind-3 line and a kind-4 end carry `behind` (u16,
# the sequence minus the sender's base) first in their bodies; a kind-2 acknowledgement, sent back by the receiver in a
# session of its own, names the session it acknowledges, `next`, flags, and
# the ranges held above `next`.
reliable_line = header(3, bytes(range(0x80, 0x98)), 0x0123456789ABCDEF,
                       1795515303000, 7, 1795515305000, "192.168.1.6", 2323)
reliable_end = header(4, bytes(range(0xA0, 0xB8)), 0x0123456789ABCDEF,
                      1795515303000, 8, 1795515306000, "192.168.1.6", 2323)
ack = header(2, bytes(range(0xC0, 0xD8)), 0xFEDCBA9876543210,
             1795515302000, 0, 1795515305050, "192.168.1.5", 2323)
ranges = [(7, 8)]
ack_body = (struct.pack(">QQBB", 0x0123456789ABCDEF, 5, 0, len(ranges))
            + b"".join(struct.pack(">QQ", first, end) for first, end in ranges))
assert len(ack_body) == 18 + 16 * len(ranges)
print("reliable line:", sealed(reliable_line, struct.pack(">H", 7 - 5) + b"hello").hex())
print("reliable end: ", sealed(reliable_end, struct.pack(">H", 8 - 8)).hex())
print("ack:          ", sealed(ack, ack_body).hex())

try:
    from argon2.low_level import Type, hash_secret_raw
except ImportError:
    print("passphrases: argon2-cffi is not installed (apt-get install python3-argon2)")
else:
    def key(passphrase):
        text = unicodedata.normalize("NFC", passphrase.strip())
        return hash_secret_raw(text.encode(), b"udpchat-secret-1", time_cost=3,
                               memory_cost=65536, parallelism=4, hash_len=32,
                               type=Type.ID, version=0x13).hex()
    print("passphrase:", key("correct horse battery staple"))
    # "café crème" typed with combining accents (NFD) is the same passphrase.
    nfd = unicodedata.normalize("NFD", "café crème")
    assert nfd != "café crème"
    print("NFC passphrase:", key("café crème"), "NFD:", key(nfd))
