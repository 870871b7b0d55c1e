"""Where the decide stage's memory goes, offline: the decoded states, and the per-key
records they were sent as (which the worker's table kept as well until the thirteenth
session; it now keeps only what a claim read back and nothing decoded yet).

    .venv/bin/python -m bench.decide_memory [--events 600000]

The bench's mixed stream (bench/core.py, 8 cities) through the decide stage
(:class:`streams.stages.decide.Decider`) over a :class:`streams.stages.state_records.
RecordStore` on a dict, as the live worker runs it (batches of 5 000, states flushed every
5 batches), the records it sends kept in a dict as the changelog keeps them; then, under
``tracemalloc``, each part dropped in turn: the states (the decider's and the store's),
the records. Prints MiB of each. With ``--untraced``: no tracemalloc and the records sent
not kept, the process's resident memory at the end (the decided states, and the code).
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.core import CITIES, T0, _mixed
from streams.core import default_rulebook
from streams.ops.runtime import tune_gc_for_core_state
from streams.stages.batch import Record
from streams.stages.decide import Decider
from streams.stages.state_records import RecordStore, apply_records
from streams.stages.ticks import TickClock
from streams.stages.topology import partition_for
from topics.codec import encode
from topics.registry import TOPIC_FOR_KIND

BATCH = 5_000
MIB = 2**20


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def _status_mib(field: str) -> int:
    """A ``/proc/self/status`` memory field, MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=600_000)
    parser.add_argument(
        "--untraced", action="store_true",
        help="no tracemalloc, the records sent not kept: print the process's resident memory",
    )  # fmt: skip
    args = parser.parse_args()
    events, untraced = args.events, args.untraced
    tune_gc_for_core_state()
    rules = default_rulebook()
    data: dict[bytes, bytes] = {}
    store = RecordStore(data, rules)
    sent: dict[bytes, bytes] = {}
    decider = Decider(
        prefix="bench", digits=4, pseudonym_key=b"k" * 32, rulebook=rules, store=store,
        clock=TickClock("event"), now=lambda: datetime(2026, 3, 1, tzinfo=UTC),
        deferred_puts=True,
    )  # fmt: skip
    if not untraced:
        tracemalloc.start()
    batch: list[Record] = []
    for n in range(events):
        city = CITIES[n % len(CITIES)]
        k = n // len(CITIES)
        event = _mixed(k, city, T0 + timedelta(seconds=20 * k))
        event = event.model_copy(update={"event_id": f"{event.event_id}-{city}"})
        topic = TOPIC_FOR_KIND[event.kind].name("bench")
        batch.append(Record(topic, partition_for(city), n, city.encode(), encode(event)))
        if len(batch) == BATCH or n == events - 1:
            decider.process(batch)
            batch = []
            if (n // BATCH) % 5 == 0 or n == events - 1:
                decider.flush_states()
                for records in store.take_unsent().values():
                    if not untraced:
                        apply_records(sent, records.items())
    if untraced:
        gc.collect()
        rss, peak = _status_mib("VmRSS"), _status_mib("VmHWM")
        print(f"{events:,} events: resident {rss} MiB, peak {peak} MiB")
        return
    total = _traced()
    decider.forget()
    store.reloaded()  # the store's states held, and its grouping of ``data``
    without_states = _traced()
    records, keys, values = len(sent), sum(map(len, sent)), sum(map(len, sent.values()))
    sent.clear()
    rest = _traced()
    print(
        f"{events:,} events: traced {total / MIB:.0f} MiB: decoded states "
        f"{(total - without_states) / MIB:.0f} MiB, records sent "
        f"{(without_states - rest) / MIB:.0f} MiB ({records:,} records: keys "
        f"{keys / MIB:.0f} MiB, values {values / MIB:.0f} MiB), the rest {rest / MIB:.0f} MiB "
        f"(the store's local copy: {len(data):,} records)"
    )


if __name__ == "__main__":
    main()
