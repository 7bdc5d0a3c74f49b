#!/usr/bin/env python3
"""Loads one URL at a fixed rate and prints "<requests/s> <p50 ms> <p99 ms> <failed>".

usage: fixed_rate.py URL RATE SECONDS [Header: value ...]

wrk keeps a fixed number of requests in flight, so it measures the most a server answers; a
target such as "p99 under 10 ms at 500 requests/s" needs the rate fixed instead. Requests are
sent on a fixed schedule over keep-alive connections (open loop: a late answer does not delay
the next request, a new connection takes it), and each latency counts from the moment the
request was due, so a stall shows in the figures instead of slowing the load down.

A request fails when its connection cannot be made, when it gets no complete answer within
TIMEOUT seconds, or when the answer is not 2xx; failed requests count in the percentiles
too (at the time they failed), and the exit status is 1 if any failed. An idle connection the
server closed is replaced once, without counting. Loopback only: the URL must name
127.0.0.1, ::1 or localhost.
"""

import asyncio
import sys
import time
from urllib.parse import urlsplit

TIMEOUT = 10.0


class Closed(Exception):
    """The server closed a kept-alive connection before answering on it."""


async def read_body(reader, head):
    length, chunked = None, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value:
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                return
    await reader.readexactly(length or 0)


async def exchange(connection, request):
    reader, writer = connection
    writer.write(request)
    await writer.drain()
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if not error.partial:
            raise Closed() from error
        raise
    status = int(head.split(b" ", 2)[1])
    await read_body(reader, head)
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

    def connect():
        return asyncio.open_connection(parts.hostname, parts.port)

    async def attempt():
        if idle:
            connection = idle.pop()
            try:
                return connection, await exchange(connection, request)
            except (Closed, ConnectionResetError, BrokenPipeError):
                connection[1].close()
        connection = await connect()
        return connection, await exchange(connection, request)

    async def one(due):
        nonlocal failed
        try:
            connection, status = await asyncio.wait_for(attempt(), TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, Closed):
            failed += 1
            latencies.append(time.perf_counter() - due)
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
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    answered = total - failed
    print(f"{answered / elapsed:.0f}\t{percentile(0.5):.2f}\t{percentile(0.99):.2f}\t{failed}")
    return 1 if failed else 0


sys.exit(asyncio.run(main()))
