"""What both flows share: checking an answer of the generated client, names, a PNG.

Everything here works on what the generated client returns (`Response` with `status_code`
and `parsed`); nothing sends a request of its own.
"""

import random
import struct
import sys
import zlib
from typing import Any, TypeVar

T = TypeVar("T")

step_number = 0


def step(text: str) -> None:
    global step_number
    step_number += 1
    print(f"  {step_number:2}. {text}", flush=True)


def expect(response: Any, status: int, kind: type[T]) -> T:
    """The parsed body of an answer that must have this status and parse to this model.

    `parsed` is None when the generated client found no model for the status, which is what
    a dropped schema looks like from the outside.
    """
    if response.status_code != status:
        sys.exit(f"FAILED: expected {status} {kind.__name__}, got {response.status_code}: {response.content[:500]!r}")
    if not isinstance(response.parsed, kind):
        sys.exit(
            f"FAILED: the {status} answer parsed to {type(response.parsed).__name__}, "
            f"not {kind.__name__}: {response.content[:500]!r}"
        )
    return response.parsed


def expect_empty(response: Any, status: int) -> None:
    if response.status_code != status:
        sys.exit(f"FAILED: expected {status}, got {response.status_code}: {response.content[:500]!r}")


def require(condition: bool, text: str) -> None:
    if not condition:
        sys.exit(f"FAILED: {text}")


def unique_email(tag: str) -> str:
    return f"{tag}.{random.randrange(10**12)}@example.com"


def png() -> bytes:
    """A valid 2×2 RGB PNG, made here."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
