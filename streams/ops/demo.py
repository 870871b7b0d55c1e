"""`tierflow demo`: the whole pipeline on the local stack with the three scenarios.

Steps, each idempotent so the demo can be run again: stack up, migrate the live and
exercise databases, create the topics, start one worker in the background under a
supervisor that restarts it whenever it exits (:mod:`streams.ops.workers`, files in
``<stack home>/workers/demo.*``; an already running demo worker is reused), publish
every scenario with seed 1 (re-publishing the same event ids changes nothing), then wait
until ClickHouse
holds every case and stock report of the scenarios and the command view has
stopped changing.

The worker runs with ``tick_clock=event``: the scenarios are dated in March 2026, and
wall-clock ticks would make every task overdue the moment it is issued.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sinks.client import connect
from sinks.namespaces import migrate_namespaces
from streams.config.settings import Settings
from streams.ops import workers
from streams.ops.kafka import create_topics
from streams.ops.publisher import publish_records
from streams.ops.record_signer import register_senders
from streams.ops.stack import stack_up
from streams.ops.stack_proc import StackError
from streams.simulate import generate, outgoing_records

SCENARIOS = ("cholera", "road-mci", "supply-squeeze")
Say = Callable[[str], None]
DEMO_WORKER = "demo"


def start_worker(settings: Settings) -> int:
    """The demo worker's supervisor pid, starting both unless they run. The worker keeps
    scenario time (``tick_clock=event``) unless TIERFLOW_TICK_CLOCK says otherwise."""
    if "tick_clock" not in settings.model_fields_set:
        settings = settings.model_copy(update={"tick_clock": "event"})
    return workers.start(settings, DEMO_WORKER)


def stop_worker(settings: Settings) -> workers.StopReport:
    """Stop the demo worker and its supervisor; the report says what was running."""
    return workers.stop(settings, DEMO_WORKER)


def publish_scenarios(settings: Settings, say: Say) -> dict[str, int]:
    """Publish every scenario (seed 1); returns the distinct valid case and stock events
    the tables must end up holding."""
    expected = {"cases": 0, "stock_levels": 0}
    for name in SCENARIOS:
        scenario = generate(name, 1)
        records = list(outgoing_records(scenario.records, settings.jurisdiction_digits))
        added = register_senders(settings, records)  # the scenario's agencies, once
        if added:
            say(f"registered {len(added)} agencies of {name} (signing keys)")
        counts = publish_records(records, settings)
        say(f"published {name}: {sum(counts.values())} records")
        topics = scenario.truth["topics"]
        expected["cases"] += topics.get("cases", {}).get("distinct_valid_events", 0)
        expected["stock_levels"] += topics.get("stock", {}).get("distinct_valid_events", 0)
    return expected


def wait_landed(settings: Settings, expected: dict[str, int], timeout: float) -> bool:
    """True once the tables hold ``expected`` rows and the command view's row counts have
    not changed for three polls in a row; False after ``timeout`` seconds."""
    client = connect(settings)
    tables = ("cases", "stock_levels", "tier_timeline", "tasks", "alerts", "incidents")
    sql = " UNION ALL ".join(f"SELECT '{t}', count() FROM {t} FINAL" for t in tables)
    deadline = time.monotonic() + timeout
    previous: dict[str, int] = {}
    stable = 0
    while time.monotonic() < deadline:
        current = {name: int(n) for name, n in client.query(sql).result_rows}
        complete = all(current.get(t, 0) >= n for t, n in expected.items())
        stable = stable + 1 if complete and current == previous else 0
        if stable >= 3:
            return True
        previous = current
        time.sleep(1.0)
    return False


def run_demo(settings: Settings, say: Say, timeout: float = 240) -> int:
    """Everything up to a landed command view; returns the worker's supervisor pid."""
    stack_up(settings)
    say("stack up")
    migrate_namespaces(settings, settings.clickhouse_database)
    asyncio.run(create_topics(settings))
    say("databases migrated, topics created")
    pid = start_worker(settings)
    log = workers.daemon(settings, DEMO_WORKER).log
    say(f"worker running under a supervisor that restarts it (pid {pid}, log {log})")
    expected = publish_scenarios(settings, say)
    if not wait_landed(settings, expected, timeout):
        raise StackError(
            f"the scenarios had not landed after {timeout:.0f} s; "
            f"see {workers.daemon(settings, DEMO_WORKER).log}"
        )
    return pid
