#!/usr/bin/env python3
"""SSE fan-out latency between two GymAPI instances that share PostgreSQL and Redis.

    scripts/sse_fanout.py <base url of A> <base url of B> [samples]

Signs up an owner (with a gym) and a member on A, opens the member's notification stream on
B, then changes the member's role on A `samples` times, one at a time. Each change becomes a
notification written on A (by A's job worker) and published through Redis; the latency of
a sample is the time from the notification's `created_at` (stamped by PostgreSQL as A
writes it) to its arrival on B's stream. Prints "<samples> <p50 ms> <p99 ms> <max ms>".
Standard library only; both instances run on this machine, so the clocks agree.
"""

import datetime
import http.client
import json
import queue
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid


def call(base, method, path, body=None, token=None, gym=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if gym:
        headers["X-Gym-ID"] = gym
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def sign_up(base, tag):
    body = {
        "email": f"{tag}.{uuid.uuid4().hex}@example.com",
        "password": f"bench-password-{uuid.uuid4().hex}",
        "first_name": tag.title(),
        "last_name": "Bench",
    }
    answer = call(base, "POST", "/api/v1/auth/register", body)
    return answer["user"]["id"], body["email"], answer["tokens"]["access_token"]


def read_stream(base, token, gym, arrivals, ready):
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    connection.request(
        "GET",
        "/api/v1/notifications/stream",
        headers={"Authorization": f"Bearer {token}", "X-Gym-ID": gym, "Accept": "text/event-stream"},
    )
    response = connection.getresponse()
    if response.status != 200:
        raise SystemExit(f"stream answered {response.status}")
    ready.set()
    for raw in response:
        line = raw.decode().rstrip("\n")
        if line.startswith("data:"):
            arrivals.put((time.time(), json.loads(line[5:].strip())))


def main():
    base_a, base_b = sys.argv[1], sys.argv[2]
    samples = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    _, _, owner_token = sign_up(base_a, "owner")
    gym = call(base_a, "POST", "/api/v1/gyms", {"name": "Fan-out Gym"}, owner_token)["id"]
    member_id, member_email, member_token = sign_up(base_a, "member")
    call(base_a, "POST", "/api/v1/members", {"email": member_email}, owner_token, gym)

    arrivals = queue.Queue()
    ready = threading.Event()
    threading.Thread(
        target=read_stream, args=(base_b, member_token, gym, arrivals, ready), daemon=True
    ).start()
    if not ready.wait(10):
        raise SystemExit("the stream on B did not open")
    time.sleep(1)  # the joining notification, if A's worker is slow, arrives now
    while not arrivals.empty():
        arrivals.get()

    latencies = []
    roles = ["trainer", "member"]
    for i in range(samples):
        call(base_a, "PATCH", f"/api/v1/members/{member_id}", {"role": roles[i % 2]}, owner_token, gym)
        while True:
            arrived, data = arrivals.get(timeout=10)
            if data.get("kind") == "member.role_changed":
                break
        created = datetime.datetime.fromisoformat(data["created_at"].replace("Z", "+00:00"))
        latencies.append((arrived - created.timestamp()) * 1000)
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print(f"{len(latencies)} {pick(0.50):.2f} {pick(0.99):.2f} {latencies[-1]:.2f}")


if __name__ == "__main__":
    main()
