"""A hostile multicast DNS responder for tests/discovery.rs, run inside a test's network namespace.

It answers for _udpchat._udp.local. the way no real udpchat would: many
services, huge TXT records, names with control characters, bidi overrides
and invisible characters, two services whose names differ in case alone, a
flood of unsolicited answers. Every packet goes to 224.0.0.251:5353 on the
interface named, inside the namespace the test made. The loop is bounded:
--services answers, each sent --rounds times, then it prints "done" and exits.

usage: python3 mdns_responder.py IFACE_ADDR HOST_ADDR --services N --rounds R --txt BYTES
       [--pause MS] [--names a,b,...]

--pause waits that long between rounds, so answers keep coming while a
udpchat starts and browses; without it the rounds go out back to back.
"""

import socket
import struct
import sys
import time

GROUP = ("224.0.0.251", 5353)
SERVICE = "_udpchat._udp.local."


def name(text):
    out = b""
    for label in text.rstrip(".").split("."):
        raw = label.encode("utf-8")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def instance(label):
    raw = label.encode("utf-8")
    return bytes([len(raw)]) + raw + name(SERVICE)


def record(owner, rtype, ttl, rdata, flush=False):
    rclass = 0x8001 if flush else 0x0001
    return owner + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def txt(size):
    strings = [b"v=1", b"secured=no"]
    filler = size
    while filler > 0:
        chunk = min(filler, 250)
        strings.append(b"x" * (chunk - 2) + b"=y")
        filler -= chunk
    return b"".join(bytes([len(s)]) + s for s in strings)


def packet(label, host, host_addr, port, txt_size):
    inst = instance(label)
    answers = [
        record(name(SERVICE), 12, 4500, inst),
        record(inst, 33, 4500, struct.pack("!HHH", 0, 0, port) + name(host), flush=True),
        record(inst, 16, 4500, txt(txt_size), flush=True),
        record(name(host), 1, 4500, socket.inet_aton(host_addr), flush=True),
    ]
    header = struct.pack("!HHHHHH", 0, 0x8400, 0, len(answers), 0, 0)
    return header + b"".join(answers)


def main():
    iface_addr, host_addr = sys.argv[1], sys.argv[2]
    args = dict(zip(sys.argv[3::2], sys.argv[4::2]))
    services = int(args.get("--services", "1"))
    rounds = int(args.get("--rounds", "1"))
    txt_size = int(args.get("--txt", "0"))
    pause = int(args.get("--pause", "0")) / 1000.0
    names = args["--names"].split(",") if "--names" in args else []
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(iface_addr))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    labels = [n.encode().decode("unicode_escape") for n in names]
    labels += ["hostile-%d" % i for i in range(services - len(labels))]
    packets = [
        packet(label, "hostile-host-%d.local." % i, host_addr, 4000 + i % 60000, txt_size)
        for i, label in enumerate(labels)
    ]
    sent = 0
    for round in range(rounds):
        if round > 0 and pause > 0:
            time.sleep(pause)
        for data in packets:
            try:
                sock.sendto(data, GROUP)
                sent += 1
            except OSError:
                pass  # a full queue drops it, as a LAN would
    print("done %d" % sent, flush=True)


if __name__ == "__main__":
    main()
