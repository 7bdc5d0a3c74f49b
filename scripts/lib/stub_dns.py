"""A DNS server for a network namespace with no way out: every name is one public address.

    python3 stub_dns.py LISTEN_ADDRESS ANSWER_ADDRESS

Answers each query on LISTEN_ADDRESS:53 (UDP) with ANSWER_ADDRESS for A, and no records for
any other type. scripts/fuzz points the namespace's resolv.conf here, so the webhook URLs
the fuzzer makes up resolve to a public address and are saved (the server refuses names that
do not resolve, or resolve to private addresses), while deliveries to them find no route out
of the namespace. Runs until killed.
"""

import socket
import struct
import sys


def answer(query: bytes, address: bytes) -> bytes | None:
    if len(query) < 12:
        return None
    ident, flags, questions = struct.unpack(">HHH", query[:6])
    if flags & 0x8000 or questions != 1:
        return None
    # The question: labels up to the zero byte, then type and class.
    end = 12
    while end < len(query) and query[end] != 0:
        end += 1 + query[end]
    end += 1
    if end + 4 > len(query):
        return None
    question = query[12 : end + 4]
    qtype, qclass = struct.unpack(">HH", query[end : end + 4])
    records = []
    if qtype == 1 and qclass == 1:
        # Name by pointer to the question, A, IN, TTL 60, 4 bytes.
        records.append(struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + address)
    # Response, recursion desired copied, recursion available, no error.
    header = struct.pack(">HHHHHH", ident, 0x8180 | (flags & 0x0100), 1, len(records), 0, 0)
    return header + question + b"".join(records)


def main() -> None:
    listen, answer_address = sys.argv[1], socket.inet_aton(sys.argv[2])
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((listen, 53))
    print(f"answering every name with {sys.argv[2]} on {listen}:53", flush=True)
    while True:
        query, peer = server.recvfrom(4096)
        reply = answer(query, answer_address)
        if reply is not None:
            server.sendto(reply, peer)


if __name__ == "__main__":
    main()
