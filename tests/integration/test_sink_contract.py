"""One contract, two sinks: the ClickHouse writer on the real server (a database per test,
reached through a gate that can play an outage) and its in-memory twin must behave alike."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from clickhouse_connect.driver.client import Client

from sinks.clickhouse import ClickHouseSink
from sinks.client import connect, fetch_rows
from sinks.errors import SinkBackpressure
from sinks.memory import InMemorySink, MemoryStore
from sinks.migrate import migrate
from sinks.writer import RetryPolicy, Sink, SinkPolicy, dedup_token
from streams.config.settings import Settings
from topics.models import CaseEvent, TransferEvent
from topics.outputs import Escalation, IncidentState, Task
from topics.privacy import scrub_input

from .tcp_gate import Gate

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
FAST_RETRY = RetryPolicy(first_delay_s=0.05, max_delay_s=0.2, budget_s=1.0)


@dataclass
class Harness:
    """What the contract needs from a sink: make one (a restarted worker makes another on
    the same store), read a table as the command view would, and play an outage."""

    make: Callable[..., Sink]
    read: Callable[..., list[dict[str, Any]]]
    down: Callable[[], None]
    up: Callable[[], None]


@pytest.fixture
def clickhouse(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str]
) -> Iterator[Harness]:
    database = unique_name("sink")
    migrate(ch_admin, database)
    url = urlsplit(stack.clickhouse_url)
    gate = Gate((url.hostname or "127.0.0.1", url.port or 8123))
    gate.open()
    gated = stack.model_copy(update={"clickhouse_url": f"http://127.0.0.1:{gate.port}"})
    reader = connect(stack, database)

    def make(policy: SinkPolicy | None = None, **hooks: Any) -> Sink:
        return ClickHouseSink(gated, database, policy, **hooks)

    def read(table: str, final: bool = True) -> list[dict[str, Any]]:
        return fetch_rows(reader, table, final=final)

    yield Harness(make, read, gate.close, gate.open)
    gate.close()
    ch_admin.command(f"DROP DATABASE IF EXISTS {database}")


@pytest.fixture
def memory() -> Harness:
    store = MemoryStore()

    def make(policy: SinkPolicy | None = None, **hooks: Any) -> Sink:
        return InMemorySink(policy, store=store, **hooks)

    def read(table: str, final: bool = True) -> list[dict[str, Any]]:
        return InMemorySink(store=store).rows(table, final=final)

    def set_reachable(value: bool) -> Callable[[], None]:
        return lambda: setattr(store, "reachable", value)

    return Harness(make, read, set_reachable(False), set_reachable(True))


@pytest.fixture(params=["clickhouse", "memory"])
def harness(request: pytest.FixtureRequest) -> Harness:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


# --- rows -----------------------------------------------------------------------------


def cases(first: int, count: int) -> list[CaseEvent]:
    return [
        scrub_input(
            CaseEvent.model_validate(
                {
                    "kind": "case",
                    "event_id": f"cdc-{n:06d}",
                    "source": {"agency_id": "cdc-5101", "agency_type": "health"},
                    "occurred_at": (T0 + timedelta(minutes=n)).isoformat(),
                    "reported_at": (T0 + timedelta(minutes=n + 30)).isoformat(),
                    "region": "510104",
                    "case_id": f"c{n}",
                    "patient_ref": f"h1-{n}",
                    "national_id": f"51010419900101{n:04d}",
                    "name": f"Patient {n}",
                    "disease": "cholera",
                    "classification": "confirmed",
                    "facility_id": "h1",
                }
            ),
            b"contract-key",
        )
        for n in range(first, first + count)
    ]


def case_token(first: int, count: int) -> str:
    return dedup_token("cases", "tierflow.cases.v1", 2, first, first + count - 1)


def incident(version: int, headline: str) -> IncidentState:
    return IncidentState(
        incident_id="inc-1",
        jurisdiction="5101",
        category="infectious_disease",
        disease="cholera",
        headline=headline,
        tier="III" if version > 1 else "IV",
        opened_at=T0,
        updated_at=T0 + timedelta(hours=version),
        metrics={"confirmed": float(10 * version)},
        rulebook_version="2026.1",
        version=version,
    )


def task(state: str, decided_minute: int, revision: int = 0) -> Task:
    return Task(
        task_id="task-1",
        incident_id="inc-1",
        jurisdiction="5101",
        tier="III",
        agency_type="emergency",
        action="convene joint command",
        issued_at=T0,
        due_at=T0 + timedelta(hours=1),
        state=state,
        acked_at=T0 + timedelta(minutes=40) if state == "acked" else None,
        decided_at=T0 + timedelta(minutes=decided_minute),
        revision=revision,
    )


def transfer(state: str, minute: int) -> TransferEvent:
    return TransferEvent.model_validate(
        {
            "kind": "transfer",
            "event_id": f"tr-{state}-{minute}",
            "source": {"agency_id": "120-5101", "agency_type": "health"},
            "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
            "reported_at": (T0 + timedelta(minutes=minute)).isoformat(),
            "region": "510104",
            "transfer_id": "tr-1",
            "patient_ref": "h1-7",
            "from_facility": "h1",
            "to_facility": "h2",
            "required_bed": "icu",
            "transfer_status": state,
        }
    )


def event_ids(rows: list[dict[str, Any]]) -> list[str]:
    return [row["event_id"] for row in rows]


# --- the contract ---------------------------------------------------------------------


def test_a_resent_batch_lands_once(harness: Harness) -> None:
    first = harness.make()
    first.write("cases", cases(0, 5), case_token(0, 5))
    first.flush()
    # A restarted worker re-reads the same offsets and re-sends the same batch.
    restarted = harness.make()
    restarted.write("cases", cases(0, 5), case_token(0, 5))
    restarted.write("cases", cases(5, 2), case_token(5, 2))
    restarted.flush()
    expected = [f"cdc-{n:06d}" for n in range(7)]
    assert event_ids(harness.read("cases", final=False)) == expected


def decision(decided_second: int, revision: int = 0, *, retracted: bool = False) -> Escalation:
    return Escalation(
        decision_id="d-1",
        incident_id="inc-1",
        jurisdiction="5101",
        tier="III",
        previous_tier=None,
        effective_at=T0,
        rule_ids=("cholera.week.10", "cholera.spread"),
        evidence={"confirmed_7d": 12.0},
        rulebook_version="2026.1",
        decided_at=T0 + timedelta(seconds=decided_second),
        retracted=retracted,
        revision=revision,
    )


def test_the_token_not_the_content_decides_what_is_a_resend(harness: Harness) -> None:
    # Re-processing the same offsets decides again: same rows, a later decided_at.
    token = dedup_token("tier_timeline", "tierflow.escalations.v1", 1, 40, 40)
    for decided in (2, 9):  # the second time from a restarted worker
        sink = harness.make()
        sink.write("tier_timeline", [decision(decided)], token)
        sink.flush()
    [only] = harness.read("tier_timeline", final=False)
    assert only["decided_at"] == T0 + timedelta(seconds=2)
    # The same content under another token is another batch: it lands (FINAL collapses it).
    other = harness.make()
    other.write("tier_timeline", [decision(2)], f"{token}#other")
    other.flush()
    assert len(harness.read("tier_timeline", final=False)) == 2
    assert len(harness.read("tier_timeline")) == 1


def test_a_decision_retracted_then_reinstated_is_shown(harness: Harness) -> None:
    # Case c1 confirmed (the decision), discarded (retracted), confirmed again (reinstated):
    # the core numbers the three copies 0, 1, 2. They land out of order, the retraction
    # last, the reinstatement twice (re-processed after a crash, decided later).
    landing = [
        (decision(2, 2), "tl:reinstated"),
        (decision(1, 0), "tl:first"),
        (decision(9, 2), "tl:reinstated-again"),
        (decision(1, 1, retracted=True), "tl:retracted"),
    ]
    for row, token in landing:
        sink = harness.make()
        sink.write("tier_timeline", [row], token)
        sink.flush()
    assert len(harness.read("tier_timeline", final=False)) == 4
    [shown] = harness.read("tier_timeline")
    assert (shown["retracted"], shown["revision"]) == (False, 2)
    assert shown["decided_at"] == T0 + timedelta(seconds=2)  # the first decision of it


def test_rows_read_back_as_written_without_personal_data(harness: Harness) -> None:
    sink = harness.make()
    [case] = cases(3, 1)
    sink.write("cases", [case], case_token(3, 1))
    sink.write("tier_timeline", [decision(2)], "tl:0-0")
    sink.flush()
    [row] = harness.read("cases")
    assert "name" not in row
    assert row["national_id"].startswith("p:") and "5101041990" not in row["national_id"]
    assert row["occurred_at"] == T0 + timedelta(minutes=3)
    assert row["source_agency_id"] == "cdc-5101" and row["status"] == "Actual"
    [step] = harness.read("tier_timeline")
    assert list(step["rule_ids"]) == ["cholera.week.10", "cholera.spread"]
    assert step["evidence"] == {"confirmed_7d": 12.0}
    assert step["decided_at"] == T0 + timedelta(seconds=2)


def test_same_key_collapses_to_the_highest_version_under_final(harness: Harness) -> None:
    sink = harness.make()
    sink.write("incidents", [incident(1, "first reports")], "inc:a")
    sink.flush()
    sink.write("incidents", [incident(2, "spreading")], "inc:b")
    sink.flush()
    sink.write("incidents", [incident(2, "spreading")], "inc:c")  # re-emitted, new token
    sink.flush()
    sink.write("incidents", [incident(1, "first reports")], "inc:d")  # late and stale
    sink.flush()
    assert len(harness.read("incidents", final=False)) == 4
    [current] = harness.read("incidents")
    assert (current["version"], current["headline"], current["tier"]) == (2, "spreading", "III")


def test_the_last_revision_of_a_task_wins_whatever_the_landing_order(harness: Harness) -> None:
    # The core's copies of one task: open, overdue, retracted (a late event dropped its
    # tier change), open again (another one restored it). They land out of order, and
    # the overdue copy twice (re-processed after a crash, decided later).
    copies = [
        task("open", 0, revision=0),
        task("overdue", 61, revision=1),
        task("retracted", 70, revision=2),
        task("open", 75, revision=3),
    ]
    landing = [copies[3], copies[1], copies[0], copies[2], task("overdue", 90, revision=1)]
    sink = harness.make()
    for n, row in enumerate(landing):
        sink.write("tasks", [row], f"task:{n}")
        sink.flush()
    [current] = harness.read("tasks")
    assert (current["state"], current["revision"]) == ("open", 3)
    assert current["decided_at"] == T0 + timedelta(minutes=75)
    # A stale copy landing again (a re-sent retraction) changes nothing.
    sink.write("tasks", [copies[2]], "task:retracted-again")
    sink.flush()
    assert harness.read("tasks")[0]["state"] == "open"


def test_transfer_states_only_move_forward(harness: Harness) -> None:
    sink = harness.make()
    moves = [transfer("dispatched", 5), transfer("arrived", 30), transfer("en_route", 35)]
    for n, move in enumerate(moves):
        sink.write("transfers", [move], f"transfer:{n}")
        sink.flush()
    [current_transfer] = harness.read("transfers")
    assert current_transfer["transfer_status"] == "arrived"


def test_outage_backs_off_then_backpressure_and_nothing_is_lost(harness: Harness) -> None:
    landed: list[int] = []
    sink = harness.make(
        SinkPolicy(batch_rows=100, max_delay_s=60, max_buffered_rows=1000, retry=FAST_RETRY),
        on_batch=lambda table, rows, seconds: landed.append(rows),
    )
    sink.write("cases", cases(0, 20), case_token(0, 20))
    sink.flush()
    harness.down()
    sink.write("cases", cases(20, 30), case_token(20, 30))
    began = time.monotonic()
    with pytest.raises(SinkBackpressure):
        sink.flush()
    # Waits of 0.05, 0.1, 0.2, 0.2 … until the next would pass the 1 s budget.
    assert time.monotonic() - began >= 0.7
    assert sink.buffered_rows == 30 and landed == [20]
    harness.up()
    sink.flush()
    assert landed == [20, 30] and sink.buffered_rows == 0
    assert event_ids(harness.read("cases", final=False)) == [f"cdc-{n:06d}" for n in range(50)]


def test_a_full_buffer_refuses_writes_until_the_store_is_back(harness: Harness) -> None:
    sink = harness.make(
        SinkPolicy(batch_rows=100, max_delay_s=60, max_buffered_rows=100, retry=FAST_RETRY)
    )
    harness.down()
    sink.write("cases", cases(0, 60), case_token(0, 60))
    with pytest.raises(SinkBackpressure):
        sink.write("cases", cases(60, 60), case_token(60, 60))
    assert sink.buffered_rows == 60  # the refused 60 are still the caller's
    harness.up()
    sink.write("cases", cases(60, 60), case_token(60, 60))  # the caller sends them again
    sink.flush()
    assert event_ids(harness.read("cases", final=False)) == [f"cdc-{n:06d}" for n in range(120)]
