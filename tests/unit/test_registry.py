"""The facility registry (issue 15 item 3): versioned YAML validated with paths and lines,
`tierflow registry check`, a rulebook naming its registry, and the capacity redirect
ranked by designation, free beds and distance, saying why. Worked out by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.core import default_rulebook, initial_state, step_many
from streams.core.compiled import compile_rulebook
from streams.core.eventtime import to_us
from streams.core.ids import content_id
from streams.core.registry import RegistryError, parse_registry
from streams.core.rulebook import Rulebook
from streams.core.rulebook_loader import load_rulebook
from tests.folding import snapshot
from topics.models import TransferEvent
from topics.outputs import Alert

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=CST)
EXAMPLE = Path(__file__).parents[2] / "streams" / "registries" / "sichuan-example.yaml"

# FULL is 锦江区's centre; C 青羊区's (2.8 km away: 0.017° north, 0.021° west at 30.7° N,
# 1.89 km and 2.01 km), D 自流井区's (Zigong, ~100 km).
REGISTRY = {
    "version": "t1",
    "facilities": [
        {"id": "FULL", "name": "full", "designation": "designated", "jurisdiction": "5101",
         "location": {"lat": 30.6570, "lon": 104.0830}},
        {"id": "A", "name": "a", "designation": "none", "jurisdiction": "5101",
         "location": {"lat": 30.6600, "lon": 104.1020}},
        {"id": "B", "name": "b", "designation": "reserve", "jurisdiction": "5101",
         "location": {"lat": 30.6420, "lon": 104.0430}},
        {"id": "C", "name": "c", "designation": "designated", "jurisdiction": "5101",
         "location": {"lat": 30.6740, "lon": 104.0620}},
        {"id": "D", "name": "d", "designation": "designated", "jurisdiction": "5101",
         "location": {"lat": 29.3370, "lon": 104.7770}},
    ],
}  # fmt: skip


def _transfer() -> TransferEvent:
    return TransferEvent(
        event_id="tr-1",
        kind="transfer",
        source={"agency_id": "120-5101", "agency_type": "health"},
        occurred_at=T0 + timedelta(hours=1),
        reported_at=T0 + timedelta(hours=1),
        region="510104",
        transfer_id="T1",
        patient_ref="p1",
        from_facility="scene",
        to_facility="FULL",
        required_bed="icu",
        transfer_status="requested",
    )


EVENTS: list[Any] = [
    snapshot(T0, "FULL", "bed.icu", 0, 10),
    snapshot(T0, "A", "bed.icu", 9, 10),  # most free, but designated by no one
    snapshot(T0, "B", "bed.icu", 3, 10),  # reserve
    snapshot(T0, "C", "bed.icu", 1, 10),  # designated, 2.8 km
    snapshot(T0, "D", "bed.icu", 1, 10),  # designated, as free as C, ~100 km
    snapshot(T0, "E", "bed.icu", 20, 40),  # not in the registry: counts as none
    _transfer(),
]


def _redirect(book: Rulebook) -> Alert:
    _, out = step_many(initial_state("5101"), EVENTS, book)
    (found,) = [o for o in out if isinstance(o, Alert) and o.alert_kind == "capacity_redirect"]
    return found


def with_registry(registry: dict[str, Any] | None) -> Rulebook:
    data = default_rulebook().model_dump(by_alias=True)
    return Rulebook.model_validate({**data, "resources": {"facilities": registry}})


def test_designation_before_free_beds_before_distance() -> None:
    found = _redirect(with_registry(REGISTRY))
    assert found.message == (
        "FULL has no free icu bed: redirect to C (designated, 1 free, 2.8 km from FULL)"
    )
    assert found.details["suggested_facility"] == "C"
    assert found.details["reason"] == "designated, 1 free, 2.8 km from FULL"
    assert found.details["registry_version"] == "t1"


def test_without_designated_beds_a_reserve_hospital_then_the_most_free() -> None:
    reserve_first = [e for e in EVENTS if getattr(e, "site_id", None) not in ("C", "D")]
    _, out = step_many(initial_state("5101"), reserve_first, with_registry(REGISTRY))
    (found,) = [o for o in out if isinstance(o, Alert) and o.alert_kind == "capacity_redirect"]
    # B: 0.015° south (1.67 km), 0.040° west (3.83 km at 30.65° N): sqrt(17.42) = 4.2 km
    assert found.details["reason"] == "reserve, 3 free, 4.2 km from FULL"


def test_without_a_registry_the_most_free_beds_as_before() -> None:
    found = _redirect(default_rulebook())
    assert found.message == "FULL has no free icu bed: redirect to E (20 free)"
    # the id the redirect had before there was a registry: content of the same parts
    t = to_us(EVENTS[-1].occurred_at)
    assert found.alert_id == content_id(
        "capacity_redirect", "Actual", "T1", "FULL", "bed.icu", t, None, ("E", 20.0)
    )


def test_a_rulebook_names_its_registry_relative_to_its_file(tmp_path: Path) -> None:
    text = Path(__file__).parents[2].joinpath("streams/rulebooks/default.yaml").read_text()
    (tmp_path / "rules.yaml").write_text(
        text.replace("resources:\n", "resources:\n  registry: facilities.yaml\n", 1)
    )
    (tmp_path / "facilities.yaml").write_text(EXAMPLE.read_text())
    comp = compile_rulebook(load_rulebook(tmp_path / "rules.yaml"))
    assert comp.facilities.version == "2026.1-example"
    assert comp.facilities.by_id["H-510105-01"].designation == "reserve"
    (tmp_path / "facilities.yaml").write_text('version: "x"\nfacilities:\n  - {id: A}\n')
    with pytest.raises(RegistryError, match=r"facilities.yaml:3: facilities\[0\].name: Field"):
        load_rulebook(tmp_path / "rules.yaml")


def test_a_bad_registry_is_named_by_path_and_line() -> None:
    text = (
        'version: "v"\nfacilities:\n'
        '  - {id: A, name: a, jurisdiction: "5101"}\n'
        '  - {id: A, name: b, jurisdiction: "5101", level: top}\n'
        '  - {id: A, name: c, jurisdiction: "5101"}\n'
    )
    with pytest.raises(RegistryError) as caught:
        parse_registry(text, "f.yaml")
    assert str(caught.value) == (
        "f.yaml:4: facilities[1].level: Input should be 'tertiary', 'secondary', 'primary' "
        "or 'other'"
    )
    with pytest.raises(RegistryError) as caught:
        parse_registry(text.replace(", level: top", ""), "f.yaml")
    assert str(caught.value).splitlines() == [
        "f.yaml:4: facilities[1].id: duplicate facility id 'A' (facilities[0])",
        "f.yaml:5: facilities[2].id: duplicate facility id 'A' (facilities[0])",
    ]


def test_registry_check_prints_a_summary_or_every_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["registry", "check", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "registry version 2026.1-example OK: 7 facilities" in " ".join(result.output.split())
    bad = tmp_path / "bad.yaml"
    bad.write_text('version: "v"\nfacilities:\n  - {id: A, name: a, jurisdiction: "51"}\n')
    result = CliRunner().invoke(app, ["registry", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:3: facilities[0].jurisdiction: String should match pattern" in result.output
