"""JSON bytes that are kept: a state's records live in the worker's memory for as long as
the state does.

orjson (3.12 on, 3.13 pinned here) returns its output buffer as the bytes object without
shrinking it: at least ~4 KiB however short the JSON, and up to twice its length when
longer. A case record of ~200 bytes kept in a table's local copy therefore held ~8 KiB;
100 000 such records of 144 bytes took 780 MiB of RSS, copied to their size 19 MiB (the
end-to-end bench's decide process reached 5.4 GiB at 1 M events). Bytes that are sent and
dropped need no copy."""

from __future__ import annotations

from typing import Any

import orjson


def dumps(value: Any, option: int | None = None) -> bytes:
    """``orjson.dumps(value, option=option)`` in a bytes object of its own size."""
    return bytes(memoryview(orjson.dumps(value, option=option)))
