#!/usr/bin/env python3
"""Loads one URL at a fixed rate and prints "<requests/s> <p50 ms> <p99 ms> <failed>".

usage: fixed_rate.py URL RATE SECONDS [Header: value ...]

wrk keeps a fixed number of requests in flight, so it measures the most a server answers; a
target such as "p99 under 10 ms at 500 requests/s" needs the rate fixed instead. Requests are
sent on a fixed schedule over keep-alive connections (open loop: a late answer does not delay
the next request, a new connection takes it), and each latency counts from the moment the
request was due, so a stall shows in the figures instead of slowing the load down.
Loopback only: the URL must name 127.0.0.1, ::1 or localhost.
"""

import asyncio
import sys
import time
from urllib.parse import urlsplit


async def exchange(reader, writer, request):
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def main():
    url, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "::1", "localhost"):
        sys.exit("fixed_rate.py: loopback URLs only")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = "".join(f"{h}\r\n" for h in sys.argv[4:])
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{headers}Connection: keep-alive\r\n\r\n"
    ).encode()
    idle, latencies, failed = [], [], 0

    async def one(due):
        nonlocal failed
        connection = idle.pop() if idle else await asyncio.open_connection(parts.hostname, parts.port)
        try:
            status = await exchange(*connection, request)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            failed += 1
            connection[1].close()
            return
        latencies.append(time.perf_counter() - due)
        if not 200 <= status < 300:
            failed += 1
        idle.append(connection)

    start = time.perf_counter()
    total = int(rate * seconds)
    tasks = []
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    latencies.sort()

    def percentile(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0

    print(f"{len(latencies) / elapsed:.0f}\t{percentile(0.5):.2f}\t{percentile(0.99):.2f}\t{failed}")


asyncio.run(main())
