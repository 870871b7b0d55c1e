"""Decoding alone: ``topics.codec.decode`` (pydantic, as the decide stage and the ceiling
decode) over the mixed stream of bench/replay.py, this tree against another side by side.

    .venv/bin/python bench/decode.py [--events 200000] [--rounds 5] [--against DIR]

Each pass runs in a process of its own, importing the tree it measures; printed is the
best of ``--rounds`` passes in seconds per 100 000 records. With ``--against`` (a checkout
of another commit, e.g. ``git worktree add /tmp/before HEAD~1``) that tree is measured
too, the two alternating pass by pass, and ``ratio this tree / against`` (decoding rate)
is printed. Run as a script (not ``-m``), so that this same file runs over either tree's
packages.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def one_round(events: int) -> float:
    """Seconds per 100 000 records of one pass, decoding with the tree on ``sys.path``."""
    from bench.replay import _records
    from topics.codec import decode

    values = [r.value for r in _records(events)]
    gc.collect()
    gc.freeze()
    began = time.perf_counter()
    for value in values:
        decode(value)
    return (time.perf_counter() - began) / events * 100_000


def _in(tree: Path, events: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, __file__, "--events", str(events), "--child"],
        cwd=tree, env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return float(out.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another checkout to compare with")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(one_round(args.events))
        return
    trees = {"this tree": HERE} | ({"against": args.against.resolve()} if args.against else {})
    best = {name: float("inf") for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            best[name] = min(best[name], _in(tree, args.events))
    for name, tree in trees.items():
        print(f"{name} ({tree}): decode {best[name]:.3f} s per 100 000 records")
    if args.against:
        print(f"ratio this tree / against: {best['against'] / best['this tree']:.2f}")


if __name__ == "__main__":
    main()
