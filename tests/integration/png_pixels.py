"""A tiny PNG reader (8-bit RGB/RGBA, non-interlaced: what Chromium's --screenshot writes),
enough to count pixels of a colour without an imaging library."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def pixels(png: bytes) -> tuple[int, int, Iterator[tuple[int, int, int]]]:
    """``(width, height, RGB pixels row by row)`` of an 8-bit RGB or RGBA PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data)
            assert depth == 8 and colour in (2, 6) and interlace == 0, "unsupported PNG"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += data
    raw = zlib.decompress(idat)
    stride = width * channels

    def rows() -> Iterator[tuple[int, int, int]]:
        previous = bytearray(stride)
        at = 0
        for _ in range(height):
            kind, line = raw[at], bytearray(raw[at + 1 : at + 1 + stride])
            at += 1 + stride
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                up = previous[i]
                if kind == 1:
                    line[i] = (line[i] + left) & 0xFF
                elif kind == 2:
                    line[i] = (line[i] + up) & 0xFF
                elif kind == 3:
                    line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
                elif kind == 4:
                    corner = previous[i - channels] if i >= channels else 0
                    line[i] = (line[i] + _paeth(left, up, corner)) & 0xFF
            for x in range(0, stride, channels):
                yield line[x], line[x + 1], line[x + 2]
            previous = line

    return width, height, rows()


def longest_run(png: bytes, colour: str, tolerance: int = 24) -> int:
    """The longest horizontal run of pixels within ``tolerance`` (per channel) of
    ``#rrggbb`` in any row: a chart's bar, not a badge or a glyph."""
    target = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    width, _, found = pixels(png)
    best = run = 0
    for index, pixel in enumerate(found):
        if index % width == 0:
            run = 0
        if all(abs(c - t) <= tolerance for c, t in zip(pixel, target, strict=True)):
            run += 1
            best = max(best, run)
        else:
            run = 0
    return best


def region(png: bytes, left: int, top: int, width: int, height: int) -> tuple[bytes, ...]:
    """The pixels of a box, one ``bytes`` of RGB triples per row: equal boxes, equal
    images."""
    full_width, _, found = pixels(png)
    rows: list[bytearray] = []
    row = bytearray()
    for index, pixel in enumerate(found):
        y, x = divmod(index, full_width)
        if y >= top + height:
            break
        if y >= top and left <= x < left + width:
            row.extend(pixel)
            if x == left + width - 1:
                rows.append(row)
                row = bytearray()
    return tuple(bytes(r) for r in rows)


def inked(box: tuple[bytes, ...], threshold: int = 128) -> int:
    """How many pixels of a box are dark (a glyph's strokes on a white page)."""
    return sum(1 for row in box for i in range(0, len(row), 3) if max(row[i : i + 3]) < threshold)
