"""A replay of the event-time range a live worker processed decides exactly what the live
run decided (processing-time fields aside), and leaves the live run untouched: no row
added to its databases, no committed offset of its consumer groups moved."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings
from streams.core import shipped_registry
from streams.simulate import REGISTRIES

from .kafka_helpers import read_topic, run_cli
from .live_support import live_settings, prepare, running_worker, simulate
from .privacy_support import with_personal_extras
from .replay_support import (
    all_counts,
    consumer_groups,
    decisions,
    drop_databases,
    publish_scenario,
    wait_settled,
)

SCENARIOS = ("cholera", "road-mci", "supply-squeeze", "surge")


@dataclass(frozen=True)
class LiveRun:
    settings: Settings
    start: datetime
    end: datetime


@pytest.fixture(scope="module")
def live_runs(
    stack: Settings, ch_admin: Client, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], LiveRun]]:
    """Per scenario, once per module: publish it, run a worker until everything landed,
    stop the worker."""
    done: dict[str, LiveRun] = {}

    def run(scenario: str) -> LiveRun:
        if scenario not in done:
            tmp = tmp_path_factory.mktemp(scenario)
            settings = live_settings(
                stack, f"tierflow_live_{uuid.uuid4().hex[:12]}", registry_path=_registry(scenario)
            )
            lines, _truth = simulate(scenario, 3, tmp / "scenario.jsonl")
            lines = with_personal_extras(lines)  # scrubbed alike, live and in review
            prepare(settings)
            start, end = publish_scenario(settings, lines)
            with running_worker(settings, tmp / "worker.log") as proc:
                wait_settled(
                    ch_admin,
                    settings.clickhouse_database,
                    proc,
                    lambda c: c["tier_timeline"] + c["alerts"] > 0 and c["rejected_events"] == 0,
                )
            done[scenario] = LiveRun(settings, start, end)
        return done[scenario]

    yield run
    drop_databases(ch_admin, *(r.settings.clickhouse_database for r in done.values()))


def _registry(scenario: str) -> Path | None:
    """The facility registry the scenario is decided with (surge), live and in replay."""
    registry = REGISTRIES.get(scenario)
    return None if registry is None else shipped_registry(registry)


def _replay(run: LiveRun, name: str) -> None:
    registry = run.settings.registry_path
    run_cli(
        ["replay", "--name", name, "--from", run.start.isoformat(), "--to", run.end.isoformat()]
        + ([] if registry is None else ["--registry", str(registry)]),
        run.settings,
    )


def _assert_same(review: str, live: str, table: str, ch: Client, where: str = "1") -> None:
    ours, theirs = decisions(ch, review, table, where), decisions(ch, live, table, where)
    assert ours == theirs, (
        f"{review}.{table} differs from {live}: only in the review "
        f"{[r for r in ours if r not in theirs]}; only live {[r for r in theirs if r not in ours]}"
    )


@pytest.fixture(scope="module")
def replayed(
    live_runs: Callable[[str], LiveRun], ch_admin: Client
) -> Iterator[Callable[[str], tuple[str, str]]]:
    """Per scenario, once per module: (review database, live database) after a replay of
    the live run's event-time range."""
    done: dict[str, tuple[str, str]] = {}

    def replay(scenario: str) -> tuple[str, str]:
        if scenario not in done:
            run = live_runs(scenario)
            name = f"p_{uuid.uuid4().hex[:12]}"
            _replay(run, name)
            done[scenario] = (f"review_{name}", run.settings.clickhouse_database)
        return done[scenario]

    yield replay
    drop_databases(ch_admin, *(review for review, _ in done.values()))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_replay_decides_what_the_live_run_decided(
    scenario: str, replayed: Callable[[str], tuple[str, str]], ch_admin: Client
) -> None:
    review, live = replayed(scenario)
    for table in ("tier_timeline", "tasks", "incidents", "stock_levels", "transfers", "alerts"):
        _assert_same(review, live, table, ch_admin)
    assert decisions(ch_admin, live, "alerts"), f"{scenario}: no alert live: nothing compared"


def test_replay_leaves_the_live_run_untouched(
    live_runs: Callable[[str], LiveRun], ch_admin: Client, unique_name: Callable[..., str]
) -> None:
    run = live_runs("cholera")
    database = run.settings.clickhouse_database
    rows_before = all_counts(ch_admin, database)
    groups_before = consumer_groups(run.settings)
    assert {f"{run.settings.topic_prefix}.decide", f"{run.settings.topic_prefix}.landing"} <= set(
        groups_before
    ), groups_before
    assert all(groups_before.values()), "a live group has no committed offset: nothing compared"

    name = unique_name("iso")
    _replay(run, name)
    drop_databases(ch_admin, f"review_{name}")

    assert all_counts(ch_admin, database) == rows_before
    assert consumer_groups(run.settings) == groups_before  # and no group of its own


def test_replay_of_a_range_with_nothing_in_it(
    live_runs: Callable[[str], LiveRun],
    ch_admin: Client,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    run = live_runs("cholera")
    name = unique_name("empty")
    before = run.start.replace(year=run.start.year - 1)
    proc = run_cli(
        [
            "replay",
            "--name",
            name,
            "--from",
            before.isoformat(),
            "--to",
            run.start.isoformat(),
        ],
        run.settings,
    )
    assert "0 records" in proc.stdout
    assert decisions(ch_admin, f"review_{name}", "tier_timeline") == []
    drop_databases(ch_admin, f"review_{name}")


@pytest.mark.parametrize("scenario", ["road-mci", "cholera"])
def test_a_replay_of_the_decided_topic_decides_what_the_live_run_decided(
    scenario: str, live_runs: Callable[[str], LiveRun], ch_admin: Client
) -> None:
    """Months later the raw cases are gone; the decided topic (pseudonymised, kept for
    good) is what a review replays, and it decides exactly as live did."""
    run = live_runs(scenario)
    decided = read_topic(run.settings.kafka_bootstrap, f"{run.settings.topic_prefix}.decided.v1")
    assert decided, "the worker logged nothing: nothing compared"
    for _key, value, _partition in decided:
        event = orjson.loads(value)
        assert "name" not in event
        assert event.get("national_id") is None or event["national_id"].startswith("p:")
    name = f"d_{uuid.uuid4().hex[:12]}"
    run_cli(
        ["replay", "--name", name, "--source", "decided",
         "--from", run.start.isoformat(), "--to", run.end.isoformat()],
        run.settings,
    )  # fmt: skip
    review, live = f"review_{name}", run.settings.clickhouse_database
    try:
        for table in ("tier_timeline", "tasks", "incidents", "stock_levels", "transfers", "alerts"):
            _assert_same(review, live, table, ch_admin)
        assert decisions(ch_admin, live, "tier_timeline"), "no tier live: nothing compared"
    finally:
        drop_databases(ch_admin, review)
