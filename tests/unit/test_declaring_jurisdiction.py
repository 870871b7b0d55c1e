"""An agency registered for an area declares tiers there only (topics/signing.py
``declaring_outside``, checked by the decide stage after the signature): Zigong's emergency
management (5103) declaring tier I for a Chengdu incident (510104) goes to the DLQ with a
reason naming the field and changes no tier; Chengdu's own (5101) and the province's (51)
declare; an agency registered without an area declares anywhere (registries written
before areas existed); reports and acks from outside the area are not this check's."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from streams.cli import app
from streams.config.settings import Settings
from streams.core import default_rulebook
from streams.ops.agencies import add_agency, rotate_key
from streams.stages.batch import Record
from streams.stages.decide import Decider
from streams.stages.ticks import TickClock
from topics.agencies import Agency, AgencyError, Registry, load_registry, save_registry
from topics.outputs import Escalation, Rejection
from topics.signing import HEADER, KeyRing, Signer, SigningKey, signature

AT = datetime(2026, 3, 2, tzinfo=UTC)
PARTITION = 4  # city 5101's partition: nothing forwarded
AREAS = {"EM-5101": "5101", "EM-5103": "5103", "EM-51": "51", "EM-ANY": None}


def _secret(agency: str) -> bytes:
    return bytes([len(agency)]) * 32


def _ring() -> KeyRing:
    return KeyRing(
        SigningKey(
            kid=f"{agency}.k1",
            agency_id=agency,
            agency_type="emergency",
            secret=SecretStr(_secret(agency).hex()),
            created_at=AT,
            jurisdiction=area,
        )
        for agency, area in AREAS.items()
    )


def _incident(agency: str, n: int, **fields: object) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"{agency}-{n}", "kind": "incident", "schema_version": 1,
            "msg_type": "Update", "status": "Actual",
            "source": {"agency_id": agency, "agency_type": "emergency"},
            "occurred_at": "2026-03-02T08:00:00+00:00", "reported_at": "2026-03-02T08:00:00+00:00",
            "region": "510104", "incident_id": "INC-CD-1", "category": "mass_casualty",
            **fields,
        }
    )  # fmt: skip


def _decide(bodies: list[tuple[str, bytes]]) -> tuple[list[Rejection], list[Escalation]]:
    decider = Decider(
        prefix="unit", digits=4, pseudonym_key=b"k", rulebook=default_rulebook(), store=None,
        clock=TickClock("event"), now=lambda: AT, keys=_ring,
    )  # fmt: skip
    records = [
        Record(
            "unit.incidents.v1",
            PARTITION,
            offset,
            b"5101",
            value,
            [(HEADER, signature(f"{agency}.k1", _secret(agency), value))],
        )
        for offset, (agency, value) in enumerate(bodies)
    ]
    out = [e.model for e in decider.decide(records).out]
    declared = [o for o in out if isinstance(o, Escalation) and o.basis == "declared"]
    return [o for o in out if isinstance(o, Rejection)], declared


def test_a_declaration_from_another_citys_agency_is_refused_naming_the_field() -> None:
    rejected, declared = _decide([("EM-5103", _incident("EM-5103", 1, declared_tier="I"))])
    (refusal,) = rejected
    assert (refusal.offset, refusal.field) == (0, "region")
    assert refusal.reason == (
        "declaration outside the agency's jurisdiction: 'EM-5103' is registered for 5103, the"
        " incident's region is 510104: only the leading group of the incident's jurisdiction"
        " (or one above it) declares its tier"
    )
    assert declared == []


@pytest.mark.parametrize("agency", ["EM-5101", "EM-51", "EM-ANY"])
def test_the_citys_the_provinces_and_an_unscoped_agency_declare(agency: str) -> None:
    rejected, declared = _decide([(agency, _incident(agency, 1, declared_tier="II"))])
    assert rejected == []
    assert [(d.tier, d.declared_by) for d in declared] == [("II", agency)]


def test_a_report_or_an_ack_from_outside_the_area_is_not_refused_by_it() -> None:
    report = _incident("EM-5103", 1, msg_type="Alert", casualties={"total": 12})
    ack = _incident("EM-5103", 2, msg_type="Ack", ack_task_id="task-x")
    rejected, _ = _decide([("EM-5103", report), ("EM-5103", ack)])
    assert rejected == []


def test_an_area_is_a_province_city_or_county_code() -> None:
    for bad in ("5", "510", "51010", "0101", "5101041"):
        with pytest.raises(ValidationError):
            Agency(
                agency_id="x", agency_type="emergency", name="x", created_at=AT, jurisdiction=bad
            )


def test_the_registry_keeps_the_area_and_a_rotated_key_carries_it(tmp_path: Path) -> None:
    path = tmp_path / "agencies.json"
    settings = Settings(agency_registry_path=path)
    registry = Registry()
    registry.agencies["EM-5103"] = Agency(
        agency_id="EM-5103", agency_type="emergency", name="Zigong EM", created_at=AT,
        jurisdiction="5103",
    )  # fmt: skip
    save_registry(path, registry)
    key, _ = rotate_key(settings, "EM-5103", tmp_path / "out")
    assert key.jurisdiction == "5103"
    assert load_registry(path).keyring().check(
        [(HEADER, signature(key.kid, key.secret_bytes(), b"v"))], b"v", "t", 0, 0
    ) == Signer(key.kid, "EM-5103", "emergency", "5103")


def test_adding_an_agency_with_a_bad_area_says_so_before_touching_kafka(tmp_path: Path) -> None:
    settings = Settings(agency_registry_path=tmp_path / "agencies.json")
    with pytest.raises(AgencyError, match="jurisdiction '510': a province"):
        add_agency(settings, "EM-X", "emergency", None, tmp_path, "510")
    assert not (tmp_path / "agencies.json").exists()


def test_the_command_refuses_a_bad_area_with_one_line(tmp_path: Path) -> None:
    env = {"TIERFLOW_AGENCY_REGISTRY_PATH": str(tmp_path / "agencies.json"), "COLUMNS": "200"}
    argv = ["agency", "add", "EM-X", "--type", "emergency", "--jurisdiction", "510"]
    result = CliRunner().invoke(app, [*argv, "--out", str(tmp_path)], env=env)
    assert result.exit_code == 1
    assert "jurisdiction '510': a province (2 digits), city (4) or county (6)" in result.output
