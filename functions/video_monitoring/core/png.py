"""A small PNG bar chart, pure Python (zlib only): the digest email's inline charts, which
every mail client shows (SVG and scripts they do not)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

RGB = tuple[int, int, int]
WHITE: RGB = (255, 255, 255)
AXIS: RGB = (200, 205, 212)


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def encode(pixels: Sequence[Sequence[RGB]]) -> bytes:
    """An 8-bit RGB PNG of rows of pixels."""
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def bar_chart(
    values: Sequence[float | None],
    width: int = 360,
    height: int = 80,
    color: RGB = (37, 99, 235),
    floor: float | None = None,
) -> bytes:
    """Bars of the values (None: a gap) from `floor` (default 0, or the smallest value when all
    are far from it) to the largest, over a baseline."""
    known = [v for v in values if v is not None]
    pixels = [[WHITE] * width for _ in range(height)]
    for x in range(width):
        pixels[height - 1][x] = AXIS
    if not known:
        return encode(pixels)
    low = 0.0 if floor is None else floor
    high = max(known)
    span = high - low or 1.0
    slot = width / len(values)
    for i, value in enumerate(values):
        if value is None:
            continue
        bar = max(1, round((value - low) / span * (height - 4)))
        left, right = round(i * slot + slot * 0.15), max(round((i + 1) * slot - slot * 0.15), 1)
        for y in range(height - 1 - bar, height - 1):
            for x in range(left, min(right, width)):
                pixels[y][x] = color
    return encode(pixels)
