"""Signature verification cost: µs per record for ``KeyRing.check`` (topics/signing.py)
over realistic encoded events (~400 bytes), beside the decode of the same records, with
the issue's target (< 3 µs/record).

    .venv/bin/python -m bench.signing [--records 100000] [--keys 50]

Records are signed outside the timed region by ``--keys`` agencies; the ring holds every
key. CPU time of this process (steadier than wall time on a shared machine), best of
three runs; single thread. The decode (pydantic) is printed beside it so the
ratio says what signing adds to the decide stage's per-record work.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from pydantic import SecretStr

from bench.core import CITIES, T0, _mixed
from topics.codec import decode, encode
from topics.signing import KeyRing, SigningKey, sign_headers

TARGET_US = 3.0


def _keys(count: int) -> list[SigningKey]:
    return [
        SigningKey(
            kid=f"agency-{n}.k1",
            agency_id=f"agency-{n}",
            agency_type="health",
            secret=SecretStr(f"{n:064x}"),
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        for n in range(count)
    ]


def _best(runs: int, work: object) -> float:
    best = float("inf")
    for _ in range(runs):
        began = time.process_time()
        work()  # type: ignore[operator]
        best = min(best, time.process_time() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=50)
    args = parser.parse_args()
    keys = _keys(args.keys)
    ring = KeyRing(keys)
    values = [encode(_mixed(n, CITIES[n % len(CITIES)], T0)) for n in range(args.records)]
    signed = []
    for n, value in enumerate(values):
        key = keys[n % len(keys)]
        signed.append((sign_headers(key.kid, key.secret_bytes(), value), value, n))

    def verify() -> None:
        for headers, value, offset in signed:
            if isinstance(ring.check(headers, value, "t", 0, offset), str):
                raise SystemExit("a good signature was refused")

    def decode_all() -> None:
        for value in values:
            decode(value)

    size = sum(len(v) for v in values) / len(values)
    verify_us = _best(3, verify) / len(values) * 1e6
    decode_us = _best(3, decode_all) / len(values) * 1e6
    verdict = "meets" if verify_us < TARGET_US else "MISSES"
    print(f"{len(values):,} records of {size:.0f} bytes, {len(keys)} keys")
    print(f"verify : {verify_us:.2f} µs/record ({verdict} the < {TARGET_US:.0f} µs target)")
    print(f"decode : {decode_us:.2f} µs/record (verification = {verify_us / decode_us:.2f}x)")


if __name__ == "__main__":
    main()
