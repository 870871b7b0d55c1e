"""`tierflow simulate`: determinism, what every line is, and whether the truth file tells
the truth about the file. Expectations are worked out from the lines themselves (parsed
here, independently of the generator) or by hand from the scenario's script."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from streams.cli import app
from streams.simulate import SCENARIOS, SimulateError, generate
from topics.codec import decode, decode_tick
from topics.models import CaseEvent, StockEvent, TransferEvent
from topics.outputs import Rejection, Tick

NAMES = sorted(SCENARIOS)
# The class of error each malformed record is meant to carry, as the codec words it.
REASON_OF_CLASS = {
    "not_json": "not JSON",
    "not_object": "not a JSON object",
    "missing_field": "missing required field",
    "bad_region": "bad region code",
    "bad_timestamp": "bad timestamp",
    "unknown_kind": "unknown kind",
    "wrong_type": "wrong value for",
}
STEM_OF_KIND = {"incident": "incidents", "case": "cases", "transfer": "transfers", "stock": "stock"}


def _lines(name: str, seed: int = 1, **kwargs: Any) -> tuple[list[bytes], dict[str, Any]]:
    scenario = generate(name, seed, **kwargs)
    return scenario.jsonl().splitlines(), scenario.truth


def _parsed(lines: list[bytes]) -> list[Any]:
    """Each line decoded: an input event, a Tick, or a Rejection."""
    out: list[Any] = []
    for line in lines:
        try:
            is_tick = orjson.loads(line).get("kind") == "tick"
        except (orjson.JSONDecodeError, AttributeError):
            is_tick = False
        out.append(decode_tick(line) if is_tick else decode(line))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_bytes_other_seed_other_bytes(name: str) -> None:
    first, second, other = generate(name, 7), generate(name, 7), generate(name, 8)
    assert first.jsonl() == second.jsonl()
    assert first.truth_json() == second.truth_json()
    assert first.jsonl() != other.jsonl()
    assert [(r.topic_stem, r.key) for r in first.records] == [
        (r.topic_stem, r.key) for r in second.records
    ]


@settings(max_examples=15, deadline=None)
@given(name=st.sampled_from(NAMES), seed=st.integers(0, 2**63))
def test_any_seed_gives_a_reproducible_well_formed_scenario(name: str, seed: int) -> None:
    scenario = generate(name, seed)
    assert scenario.jsonl() == generate(name, seed).jsonl()
    truth = scenario.truth
    bad = {m["line"] for m in truth["malformed"]}
    parsed = _parsed(scenario.jsonl().splitlines())
    assert {n for n, got in enumerate(parsed, start=1) if isinstance(got, Rejection)} == bad
    assert len(truth["late_event_ids"]) >= 3 and len(truth["duplicate_event_ids"]) >= 3
    assert len(truth["reporting_late_event_ids"]) >= 2


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_every_line_is_valid_or_rejected_as_intended(name: str, seed: int) -> None:
    lines, truth = _lines(name, seed)
    malformed = {m["line"]: m["error"] for m in truth["malformed"]}
    assert set(Counter(malformed.values())) == set(REASON_OF_CLASS)  # every class present
    for number, (line, got) in enumerate(zip(lines, _parsed(lines), strict=True), start=1):
        if number in malformed:
            assert isinstance(got, Rejection), (number, line)
            assert got.reason.startswith(REASON_OF_CLASS[malformed[number]]), got.reason
        else:
            assert not isinstance(got, Rejection), (number, got.reason if got else line)
            assert b"\n" not in line


@pytest.mark.parametrize("name", NAMES)
def test_truth_counts_match_the_file(name: str) -> None:
    lines, truth = _lines(name)
    topic_of_line = {m["line"]: m["topic"] for m in truth["malformed"]}
    records: Counter[str] = Counter()
    valid: Counter[str] = Counter()
    ids: dict[str, Counter[str]] = {}
    for number, got in enumerate(_parsed(lines), start=1):
        if isinstance(got, Rejection):
            records[topic_of_line[number]] += 1
            continue
        stem = "ticks" if isinstance(got, Tick) else STEM_OF_KIND[got.kind]
        records[stem] += 1
        valid[stem] += 1
        ids.setdefault(stem, Counter())[got.event_id] += 1
    assert truth["lines"] == len(lines)
    for stem, counts in truth["topics"].items():
        assert counts["records"] == records[stem]
        assert counts["valid"] == valid[stem]
        assert counts["malformed"] == records[stem] - valid[stem]
        assert counts["distinct_valid_events"] == len(ids[stem])
    assert set(truth["topics"]) == set(records)
    duplicated = sorted(i for per in ids.values() for i, n in per.items() if n > 1)
    assert truth["duplicate_event_ids"] == duplicated
    assert len(duplicated) >= 3


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_late_and_late_reported_events_are_what_the_truth_says(name: str, seed: int) -> None:
    lines, truth = _lines(name, seed)
    events = [e for e in _parsed(lines) if not isinstance(e, (Rejection, Tick))]
    first_seen: dict[str, int] = {}
    for n, event in enumerate(events):
        first_seen.setdefault(event.event_id, n)
    late = [
        e.event_id
        for n, e in enumerate(events)
        if first_seen[e.event_id] == n and any(o.occurred_at > e.occurred_at for o in events[:n])
    ]
    assert truth["late_event_ids"] == late and len(late) >= 3
    slow = {e.event_id for e in events if e.reported_at - e.occurred_at > timedelta(hours=2)}
    assert set(truth["reporting_late_event_ids"]) == slow and len(slow) >= 2
    intended = {a["subject_id"] for a in truth["alerts"] if a["kind"] == "reporting_late"}
    assert intended == slow


def test_exercise_status_marks_every_event() -> None:
    lines, truth = _lines("road-mci", status="Exercise")
    events = [e for e in _parsed(lines) if not isinstance(e, (Rejection, Tick))]
    assert truth["status"] == "Exercise"
    assert {e.status for e in events} == {"Exercise"}


def test_start_moves_every_time_and_changes_ids() -> None:
    shifted = datetime.fromisoformat("2026-05-01T00:00:00+08:00")
    base_lines, base = _lines("road-mci")
    lines, truth = _lines("road-mci", start=shifted)
    delta = shifted - datetime.fromisoformat(base["start"])
    assert [datetime.fromisoformat(s["effective_at"]) for s in truth["timeline"]] == [
        datetime.fromisoformat(s["effective_at"]) + delta for s in base["timeline"]
    ]
    assert truth["tag"] != base["tag"] and not set(base_lines) & set(lines)


def test_cholera_timeline_follows_the_confirmations_in_the_file() -> None:
    lines, truth = _lines("cholera")
    confirmed: dict[str, tuple[datetime, str]] = {}
    discarded: set[str] = set()
    for event in _parsed(lines):
        if not isinstance(event, CaseEvent):
            continue
        if event.classification == "discarded":
            discarded.add(event.case_id)
        if event.classification == "confirmed":
            seen = confirmed.get(event.case_id)
            if seen is None or event.occurred_at < seen[0]:
                confirmed[event.case_id] = (event.occurred_at, event.region[:4])
    assert not discarded & set(confirmed)
    by_city: dict[str, list[datetime]] = {}
    for at, city in sorted(confirmed.values()):
        by_city.setdefault(city, []).append(at)
    chengdu, zigong = by_city["5101"], by_city["5103"]
    # By hand: the default 2+3+4+5+6+6+5 confirmed cases over the first week put the
    # 1st, 10th and 30th Chengdu cases inside one 7-day window.
    assert chengdu[29] - chengdu[0] < timedelta(days=7)
    steps = [
        (s["jurisdiction"], s["tier"], datetime.fromisoformat(s["effective_at"]))
        for s in truth["timeline"]
    ]
    # By hand: Chengdu's last days have 4, 2, 1 cases, so 5 days after its last case only
    # the Tier IV rule (>= 1 a week) still holds; it stops 7 days after that case.
    assert [s for s in steps if s[0] == "5101"] == [
        ("5101", "IV", chengdu[0]),
        ("5101", "III", chengdu[9]),
        ("5101", "II", chengdu[29]),
        ("5101", "IV", chengdu[-1] + timedelta(days=5)),
        ("5101", None, chengdu[-1] + timedelta(days=7)),
    ]
    assert [s for s in steps if s[0] == "5103"] == [
        ("5103", "IV", zigong[0]),
        ("5103", None, zigong[-1] + timedelta(days=7)),
    ]
    # The province: Tier II while both cities have a tier.
    both_end = min(chengdu[-1], zigong[-1]) + timedelta(days=7)
    assert [s for s in steps if s[0] == "51"] == [("51", "II", zigong[0]), ("51", None, both_end)]
    ticks = [t.tick_at for t in _parsed(lines) if isinstance(t, Tick)]
    assert max(ticks) >= max(s[2] for s in steps)  # every stand-down can be seen
    warnings = {a["jurisdiction"] for a in truth["alerts"] if a["kind"] == "warning_opened"}
    assert warnings == {"5101", "5103"}


def test_cholera_scale_multiplies_cases() -> None:
    def confirmed_cases(scale: int) -> int:
        lines, _ = _lines("cholera", scale=scale)
        return len(
            {
                e.case_id
                for e in _parsed(lines)
                if isinstance(e, CaseEvent) and e.classification == "confirmed"
            }
        )

    assert confirmed_cases(1) == 2 + 3 + 4 + 5 + 6 + 6 + 5 + 4 + 2 + 1 + 2 + 2 + 1 + 1
    assert confirmed_cases(3) == 3 * confirmed_cases(1)


def test_road_mci_intends_the_national_mass_casualty_tiers() -> None:
    _, truth = _lines("road-mci")
    # By hand: crash at 09:12; 12 casualties (1 dead, 2 critical) at +6 min, 34 (2, 4) at
    # +25, 52 (2, 6) at +40.
    assert [(s["tier"], s["effective_at"][11:16]) for s in truth["timeline"]] == [
        ("IV", "09:18"),
        ("III", "09:37"),
        ("II", "09:52"),
    ]
    assert {s["incident_id"] for s in truth["timeline"]} == {f"INC-MCI-{truth['tag']}"}


def test_road_mci_redirect_and_delay_follow_the_file() -> None:
    lines, truth = _lines("road-mci")
    events = [e for e in _parsed(lines) if not isinstance(e, (Rejection, Tick))]
    icu = {
        e.site_id: e.on_hand for e in events if isinstance(e, StockEvent) and e.item == "bed.icu"
    }
    transfers = [e for e in events if isinstance(e, TransferEvent)]
    full = [
        e.transfer_id
        for e in transfers
        if e.transfer_status == "requested" and e.required_bed == "icu" and icu[e.to_facility] == 0
    ]
    redirects = [a for a in truth["alerts"] if a["kind"] == "capacity_redirect"]
    assert [a["subject_id"] for a in redirects] == full and len(full) == 1
    assert redirects[0]["suggested"] == max(icu, key=lambda site: icu[site])
    overdue = {
        e.transfer_id
        for e in transfers
        if e.transfer_status == "arrived" and e.eta is not None and e.occurred_at > e.eta
    }
    delayed = {a["subject_id"] for a in truth["alerts"] if a["kind"] == "transfer_delayed"}
    assert delayed == overdue and len(overdue) == 1


def test_supply_squeeze_falls_below_seven_days_of_cover() -> None:
    _, truth = _lines("supply-squeeze")
    alerts = [a for a in truth["alerts"] if a["kind"] == "stock_low"]
    red = {(a["site_id"], a["item"]) for a in alerts if a["level"] == "red"}
    assert ("H-510107-01", "ppe.n95") in red and ("H-510107-01", "ppe.gown") in red
    for a in alerts:
        limit = {"yellow": 30, "orange": 14, "red": 7}[a["level"]]
        assert a["days_of_cover"] < limit
    assert truth["timeline"] == []


def test_cli_writes_the_file_and_its_truth(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    args = ["simulate", "--scenario", "supply-squeeze", "--seed", "3", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    scenario = generate("supply-squeeze", 3)
    assert out.read_bytes() == scenario.jsonl()
    assert orjson.loads((tmp_path / "c.truth.json").read_bytes()) == scenario.truth


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "flood", "--seed", "1"], "unknown scenario 'flood'"),
        (["--scenario", "cholera", "--seed", "1", "--start", "2026-03-02T08:00"], "no UTC offset"),
        (["--scenario", "cholera", "--seed", "1", "--start", "soon"], "not RFC 3339"),
        (["--scenario", "cholera", "--seed", "1", "--status", "Test"], "status 'Test'"),
        (["--scenario", "road-mci", "--seed", "1", "--scale", "2"], "--scale must be 1"),
        (
            ["--scenario", "cholera", "--seed", "1", "--rate", "5", "--as-fast-as-possible"],
            "not both",
        ),
    ],
)
def test_cli_refuses_bad_parameters(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["simulate", *args, "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "x.jsonl").exists()


def test_generate_refuses_scale_below_one() -> None:
    with pytest.raises(SimulateError, match="below 1"):
        generate("cholera", 1, scale=0)
