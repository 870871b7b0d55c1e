"""Core throughput: fold >= 1 M simulated, already-decoded events through ``step_many`` and
print events/s, then the per-event cost of new cases on incidents of 10, 1 000 and
100 000 cases, side by side, to show it does not grow with incident size.

    .venv/bin/python bench/core.py [--events 1000000] [--batch 1000]
        [--gc tuned|default|off] [--flapping]

Events are built with ``model_construct`` outside the timed region (the shells hand the
core decoded models); only ``step_many`` is timed. Single thread, one process. Figures are
wall time and, beside it, this process's CPU time (steadier on a shared machine); the
per-size costs are the best of three runs. ``--gc off`` disables Python's cyclic garbage
collector, to show how much of the cost is the collector traversing a large state;
``--gc tuned`` applies what the shells do (``streams.ops.runtime.tune_gc_for_core_state``).
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from streams.core import default_rulebook, initial_state, step_many
from streams.ops.runtime import tune_gc_for_core_state
from topics.models import (
    CaseEvent,
    Casualties,
    IncidentEvent,
    Source,
    StockEvent,
    TransferEvent,
)
from topics.outputs import Tick

T0 = datetime(2026, 3, 1, tzinfo=timezone(timedelta(hours=8)))
HEALTH = Source.model_construct(agency_id="cdc", agency_type="health")
EMERGENCY = Source.model_construct(agency_id="em", agency_type="emergency")
DISEASES = ("cholera", "measles", "infectious_diarrhoea", "hepatitis_a")
CITIES = [f"51{c:02d}" for c in range(1, 9)]
INCIDENT_SPAN = 5000  # events of a city during one mass-casualty incident


def _envelope(event_id: str, kind: str, at: datetime, region: str, **fields: Any) -> Any:
    """Envelope fields of a pre-validated event (model_construct skips validation: the
    bench measures the core, not the codec)."""
    return {
        "event_id": event_id,
        "kind": kind,
        "schema_version": 1,
        "msg_type": "Update",
        "status": "Actual",
        "source": HEALTH,
        "occurred_at": at,
        "reported_at": at,
        "region": region,
        "location": None,
        "incident_id": None,
        **fields,
    }


def _case(n: int, city: str, at: datetime, disease: str, *, cls: str, facility: str) -> Any:
    return CaseEvent.model_construct(
        **_envelope(
            f"c{n}",
            "case",
            at,
            f"{city}0{n // 3 % 5}",  # the county of the case: all its events share it
            msg_type="Alert",
            case_id=f"{city}-case-{n // 3}",
            patient_ref="p",
            disease=disease,
            classification=cls,
            severity="mild",
            outcome="none",
            facility_id=facility,
            setting=None,
            triage=None,
        )
    )


def _mixed(n: int, city: str, at: datetime, *, flapping: bool = False) -> Any:
    """One event of the mixed stream: 75 % cases, 10 % stock, 8 % transfers, 7 % reports.
    A case has ~3 events (suspected, confirmed, confirmed again); in 2 of 7 cases a later
    event names another disease (a diagnosis revised: the case moves between tracks)."""
    kind = n % 100
    if kind < 75:
        cls = ("suspected", "confirmed", "confirmed")[n % 3]  # ~3 events per case_id
        return _case(n, city, at, DISEASES[(n // 7) % 4], cls=cls, facility=f"H{n % 6}")
    region = f"{city}01"
    if kind < 85:
        item = ("ppe.n95", "bed.icu", "ppe.gown", "bed.isolation")[n % 4]
        return StockEvent.model_construct(
            **_envelope(
                f"s{n}",
                "stock",
                at,
                region,
                site_id=f"H{n % 6}",
                site_type="hospital",
                item=item,
                unit="each",
                on_hand=float(5000 - n % 4000),
                baseline=None,
                received=None,
            )
        )
    if kind < 93:
        state = ("requested", "dispatched", "en_route", "arrived")[n % 4]
        return TransferEvent.model_construct(
            **_envelope(
                f"t{n}",
                "transfer",
                at,
                region,
                transfer_id=f"T{n // 4}",
                case_id=None,
                patient_ref="p",
                triage=None,
                from_facility="F",
                to_facility=f"H{n % 6}",
                required_bed="icu",
                transport_unit=None,
                transfer_status=state,
                eta=at + timedelta(minutes=30),
            )
        )
    return IncidentEvent.model_construct(
        **_envelope(
            f"i{n}",
            "incident",
            at,
            region,
            source=EMERGENCY,
            incident_id=f"MC-{city}-{n // INCIDENT_SPAN}",
            category="mass_casualty",
            disease=None,
            headline="",
            severity="Unknown",
            urgency="Unknown",
            certainty="Unknown",
            phase="reported",
            ack_task_id=None,
            casualties=_casualties(n % INCIDENT_SPAN, flapping),
        )
    )


def _casualties(into: int, flapping: bool) -> Any:
    """Figures of a situation report ``into`` events after its incident began. Counts of
    victims found, dead and critical only grow over an incident's reports (as they do in
    a real mass-casualty incident), so the tier climbs IV → I a few times per incident;
    ``--flapping`` sends figures that jump at every report instead (a tier change, its
    tasks and retractions per report: the output path's worst case)."""
    if flapping:
        return Casualties.model_construct(total=into % 120, dead=into % 3, critical=into % 7)
    return Casualties.model_construct(
        total=min(10 + into // 40, 130), dead=into // 1000, critical=into // 500
    )


def _batches(total: int, batch: int, flapping: bool) -> Iterator[tuple[str, list[Any]]]:
    """Batches of one city each, cities in turn, events 20 s apart per city, a tick per
    city every 500 events (the live shell's timer)."""
    per_city = total // len(CITIES)
    for start in range(0, per_city, batch):
        for city in CITIES:
            events: list[Any] = []
            for n in range(start, min(start + batch, per_city)):
                at = T0 + timedelta(seconds=20 * n)
                events.append(_mixed(n, city, at, flapping=flapping))
                if n % 500 == 499:
                    events.append(
                        Tick.model_construct(
                            kind="tick", event_id=f"tick-{city}-{n}", tick_at=at, jurisdiction=city
                        )
                    )
            yield city, events


def mixed_stream(total: int, batch: int, flapping: bool) -> tuple[int, float, float, int]:
    """(events, wall seconds, CPU seconds, outputs) of folding the mixed stream."""
    rules = default_rulebook()
    states = {city: initial_state(city) for city in CITIES}
    events = outputs = 0
    elapsed = cpu = 0.0
    for city, chunk in _batches(total, batch, flapping):
        began, began_cpu = time.perf_counter(), time.process_time()
        states[city], out = step_many(states[city], chunk, rules)
        elapsed += time.perf_counter() - began
        cpu += time.process_time() - began_cpu
        events += len(chunk)
        outputs += len(out)
    return events, elapsed, cpu, outputs


def incident_of(size: int, batch: int, measured: int) -> float:
    """CPU microseconds per event for new confirmed cases of an incident already ``size``
    big (the best of three runs over the same state)."""
    rules = default_rulebook()
    state = initial_state("5101")
    seconds = 86_400 * 6 / max(size, 1)  # the whole incident within 6 days: one window
    history = [
        _case(
            3 * k + 1,
            "5101",
            T0 + timedelta(seconds=seconds * k),
            "cholera",
            cls="confirmed",
            facility=f"H{k % 6}",
        )
        for k in range(size)
    ]
    for i in range(0, len(history), 10_000):
        state, _ = step_many(state, history[i : i + 10_000], rules)
    end = T0 + timedelta(days=6)
    fresh = [
        _case(
            3 * (size + k) + 1,
            "5101",
            end + timedelta(seconds=k),
            "cholera",
            cls="confirmed",
            facility=f"H{k % 6}",
        )
        for k in range(measured)
    ]
    best = float("inf")
    for _ in range(3):
        run = state
        began = time.process_time()
        for i in range(0, measured, batch):
            run, _ = step_many(run, fresh[i : i + batch], rules)
        best = min(best, time.process_time() - began)
    return best / measured * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--measured", type=int, default=5000)
    parser.add_argument(
        "--gc",
        choices=("default", "tuned", "off"),
        default="tuned",
        help="cyclic collector: as the shells tune it (default), CPython's default, or off",
    )
    parser.add_argument(
        "--flapping",
        action="store_true",
        help="casualty figures that jump at every report: a tier change per report",
    )
    args = parser.parse_args()
    gc.collect()
    if args.gc == "off":
        gc.disable()
    elif args.gc == "tuned":
        tune_gc_for_core_state()
    events, elapsed, cpu, outputs = mixed_stream(args.events, args.batch, args.flapping)
    print(
        f"mixed stream: {events:,} events (8 cities, 75% cases, ticks), batch {args.batch}"
        f", gc {args.gc}{', flapping tiers' if args.flapping else ''}: {elapsed:.2f} s wall, "
        f"{events / elapsed:,.0f} events/s; {cpu:.2f} s CPU, {events / cpu:,.0f} events/s; "
        f"{outputs:,} outputs"
    )
    sizes = (10, 1_000, 100_000)
    costs = [incident_of(size, args.batch, args.measured) for size in sizes]
    print(
        "CPU cost per event of a new confirmed case, by incident size (batch "
        f"{args.batch}, {args.measured} events each, best of 3):"
    )
    print("  " + "  ".join(f"{size:>9,} cases" for size in sizes))
    print("  " + "  ".join(f"{cost:>10.2f} µs" for cost in costs))
    print(f"  ratio 100 000 / 10 cases: {costs[2] / costs[0]:.2f}")


if __name__ == "__main__":
    main()
