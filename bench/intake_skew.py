"""What reading the input topics at different paces costs the core, offline: the bench's
mixed stream (bench/core.py) folded in publish order, and with the cases topic read behind
the others (each window of ``--window`` records with its cases last), as the live intake
reads a catch-up (a fetch of a small topic spans far more event time than one of the
cases topic).

    .venv/bin/python -m bench.intake_skew [--events 300000] [--window 300000]

Batches of 5 000 per city, as the decide stage; no ticks. Prints the outputs by kind both
ways and ``ratio escalations cases-behind / in order``. The decisions that stand at the end
are the same either way (the core is order-insensitive; bench/ceiling.py's fingerprint,
printed): what differs is how many are emitted and retracted on the way.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bench.ceiling import Decisions
from bench.core import CITIES, T0, _mixed
from streams.core import CoreState, default_rulebook, initial_state, step_many
from streams.ops.runtime import tune_gc_for_core_state

BATCH = 5_000


def _fold(stream: Sequence[tuple[str, Any]], rulebook: Any) -> tuple[Counter[str], str]:
    states: dict[str, CoreState] = {}
    emitted: Counter[str] = Counter()
    decisions = Decisions()
    for start in range(0, len(stream), BATCH):
        groups: dict[str, list[Any]] = {}
        for city, event in stream[start : start + BATCH]:
            groups.setdefault(city, []).append(event)
        for city, events in groups.items():
            states[city], outputs = step_many(
                states.get(city) or initial_state(city), events, rulebook
            )
            emitted.update(type(o).__name__ for o in outputs)
            decisions.add(outputs)
    return emitted, decisions.fingerprint()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--window", type=int, default=300_000)
    args = parser.parse_args()
    tune_gc_for_core_state()
    rulebook = default_rulebook()
    stream = []
    for n in range(args.events):
        city = CITIES[n % len(CITIES)]
        k = n // len(CITIES)
        stream.append((city, _mixed(k, city, T0 + timedelta(seconds=20 * k))))
    behind = []
    for start in range(0, len(stream), args.window):  # stable: each topic stays in order
        behind += sorted(stream[start : start + args.window], key=lambda ce: ce[1].kind == "case")
    counts = {}
    for name, order in (("in order", stream), ("cases read behind", behind)):
        emitted, fingerprint = _fold(order, rulebook)
        counts[name] = emitted
        print(f"{name}: {dict(sorted(emitted.items()))}; standing {fingerprint}")
    ratio = counts["cases read behind"]["Escalation"] / max(counts["in order"]["Escalation"], 1)
    print(f"ratio escalations cases-behind / in order: {ratio:.1f}")


if __name__ == "__main__":
    main()
