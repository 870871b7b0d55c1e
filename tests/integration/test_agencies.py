"""Agencies end to end on the real broker and worker (issue 12, items 2 and 3): an agency
made by `tierflow agency add` publishes with kcat -F and a header computed by openssl (a
client and a MAC tierflow did not write) and its event lands; a record claiming another
agency, one dated ten years ahead (hostile input: the broker's receipt time bounds it) and
one signed with a revoked key land in the DLQ with their reasons (and a forged or unsigned
case in the DLQ alone, never in the command view's cases table); its
principal may not read the raw inputs nor write ticks; a replay verifies again and
decides the same, the revoked key still covering what it signed before; an agency
registered for one city declares a tier there and not in another."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from clickhouse_connect.driver.client import Client
from pydantic import SecretStr

from streams.config.kafka_security import Login, read_login
from streams.config.settings import Settings
from streams.ops.agencies import add_agency, revoke
from streams.ops.kafka import create_topics
from tests.integration import kcat
from tests.integration.kafka_helpers import admin_options, logs_in, run_cli
from tests.integration.live_support import live_settings, prepare, rows, running_worker, wait_landed
from topics.agencies import load_registry
from topics.registry import INPUT_TOPICS
from topics.signing import HEADER, sign_headers

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not kcat.available(), reason="kcat is installed by .ci/run"),
]
# from March 2026 to past the record dated 2036: the review refuses it again, by the same
# broker stamp
REVIEWED = ["--from", "2026-03-01T00:00:00Z", "--to", "2037-01-01T00:00:00Z"]


def _event(event_id: str, n: int, agency_id: str, **payload: object) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id, "source": {"agency_id": agency_id, "agency_type": "health"},
            "occurred_at": f"2026-03-02T09:0{n}:00+08:00",
            "reported_at": f"2026-03-02T09:0{n}:30+08:00", "region": "510104", **payload,
        }
    )  # fmt: skip


def _stock(n: int, agency_id: str) -> bytes:
    return _event(
        f"ag-{n}", n, agency_id, kind="stock", site_id=f"site-{n}", site_type="hospital",
        item="bed.icu", unit="bed", on_hand=10 + n, baseline=20,
    )  # fmt: skip


def _case(n: int, agency_id: str) -> bytes:
    return _event(
        f"ag-case-{n}", n, agency_id, kind="case", case_id=f"c-{n}", patient_ref=f"p-{n}",
        disease="cholera", classification="confirmed", facility_id="H-1",
    )  # fmt: skip


def _openssl_mac(value: bytes, hex_key: str) -> str:
    done = subprocess.run(
        ["openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", f"hexkey:{hex_key}"],
        input=value, capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    return done.stdout.decode().split()[-1]


def _kcat_produce(properties: Path, topic: str, value: bytes, header: str) -> Any:
    return kcat.run(
        ["-F", str(properties), "-P", "-t", topic, "-k", "5101", "-H", f"{HEADER}={header}"],
        stdin=value + b"\n",
    )


async def _send_as_admin(settings: Settings, topic: str, value: bytes, headers: Any) -> None:
    producer = AIOKafkaProducer(**admin_options(settings.kafka_bootstrap), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"5101", headers=headers)
    finally:
        await producer.stop()


def test_an_agency_speaks_only_for_itself(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    settings = live_settings(stack, unique_name("agency"))
    prepare(settings)
    agency = unique_name("cdc").replace("tierflow_", "cdc-")
    out = tmp_path / "agencies"
    run_cli(["agency", "add", agency, "--type", "health", "--out", str(out)], settings)
    properties, key_file = out / f"{agency}.properties", out / f"{agency}.key"
    kid, hex_key = key_file.read_text().split()
    assert "sasl.username=" + agency in properties.read_text()
    listed = run_cli(["agency", "list"], settings).stdout
    assert agency in listed and hex_key not in listed

    stock = f"{settings.topic_prefix}.stock.v1"
    own, foreign = _stock(1, agency), _stock(2, "someone-else")
    ahead = _stock(4, agency).replace(b"2026-03-02", b"2036-03-02")
    for value in (own, foreign, ahead):  # all signed with the agency's key, by openssl
        header = f"v1;kid={kid};hmac-sha256={_openssl_mac(value, hex_key)}"
        sent = _kcat_produce(properties, stock, value, header)
        assert sent.returncode == 0, sent.stderr.decode()
    cases = f"{settings.topic_prefix}.cases.v1"
    own_case, forged_case, unsigned_case = (
        _case(1, agency),
        _case(2, "hospital-x"),
        _case(3, agency),
    )
    for value in (own_case, forged_case):
        header = f"v1;kid={kid};hmac-sha256={_openssl_mac(value, hex_key)}"
        sent = _kcat_produce(properties, cases, value, header)
        assert sent.returncode == 0, sent.stderr.decode()
    sent = _kcat_produce(properties, cases, unsigned_case, "v1")
    assert sent.returncode == 0, sent.stderr.decode()
    # its principal may not read the raw inputs nor write the worker's ticks
    read = kcat.run(["-F", str(properties), "-C", "-t", f"{settings.topic_prefix}.cases.v1",
                     "-p", "0", "-e", "-o", "beginning"], timeout=30)  # fmt: skip
    assert b"authorization failed" in read.stderr.lower()
    ticks = kcat.run(["-F", str(properties), "-P", "-t", f"{settings.topic_prefix}.ticks.v1"],
                     stdin=b"{}\n", timeout=30)  # fmt: skip
    assert b"authorization failed" in (ticks.stdout + ticks.stderr).lower()

    db = settings.clickhouse_database
    with running_worker(settings, tmp_path / "worker.log") as proc:
        wait_landed(ch_admin, db, rejected=4, proc=proc, tiered=False)
        run_cli(["agency", "revoke", agency], settings)
        late = _stock(3, agency)  # the right agency, its key, but after the revocation
        asyncio.run(
            _send_as_admin(settings, stock, late, sign_headers(kid, bytes.fromhex(hex_key), late))
        )
        wait_landed(ch_admin, db, rejected=5, proc=proc, tiered=False)

    assert rows(ch_admin, db, "stock_levels", "site_id") == [("site-1",)]
    # the forged and the unsigned case are refused, and not in the command view either
    assert rows(ch_admin, db, "cases", "event_id") == [("ag-case-1",)]
    reasons = [r for (r,) in rows(ch_admin, db, "rejected_events", "reason")]
    assert any("'someone-else' differs from the signing key's agency" in r for r in reasons)
    assert any(f"signing key '{kid}'" in r and "revoked" in r for r in reasons)
    assert any(r.startswith("reported after received: reported_at 2036-03-02") for r in reasons)
    assert any("'hospital-x' differs from the signing key's agency" in r for r in reasons)
    refused = _kcat_produce(properties, stock, own, "v1")  # credentials removed too
    assert refused.returncode != 0

    # A replay verifies again: the same record accepted, the same three refused.
    review = unique_name("rv").removeprefix("tierflow_")
    run_cli(["replay", "--name", review, *REVIEWED], settings)
    replayed = f"review_{review}"
    assert rows(ch_admin, replayed, "stock_levels", "site_id") == [("site-1",)]
    assert rows(ch_admin, replayed, "cases", "event_id") == [("ag-case-1",)]
    assert sorted(r for (r,) in rows(ch_admin, replayed, "rejected_events", "reason")) == sorted(
        reasons
    )


def test_publish_as_an_agency_logs_in_as_that_agency(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    """`publish --as ID --credentials DIR` connects as the agency's own principal: the
    broker refuses it the worker's ticks topic (the admin could write it), its own event
    lands, and one that claims another agency (signed with its own key) lands in the DLQ."""
    settings = live_settings(stack, unique_name("pubas"))
    prepare(settings)
    agency, other = (unique_name(n).replace("tierflow_", f"{n}-") for n in ("cdc", "moh"))
    out = tmp_path / "agencies"
    for name in (agency, other):
        run_cli(["agency", "add", name, "--type", "health", "--out", str(out)], settings)
    as_agency = ["publish", "-", "--as", agency, "--credentials", str(out)]

    missing = run_cli(
        ["publish", "-", "--as", agency], settings, stdin=_stock(1, agency), check=False
    )
    assert missing.returncode == 1 and "--credentials DIR" in missing.stderr
    tick = b'{"kind": "tick", "event_id": "t-1", "tick_at": "2026-03-02T10:00:00+08:00"}'
    refused = run_cli(as_agency, settings, stdin=tick, check=False)
    assert refused.returncode == 1 and "may not see it" in refused.stderr, refused.stderr

    lines = _stock(1, agency) + b"\n" + _stock(2, other) + b"\n"
    run_cli(as_agency, settings, stdin=lines)
    db = settings.clickhouse_database
    with running_worker(settings, tmp_path / "worker.log") as proc:
        wait_landed(ch_admin, db, rejected=1, proc=proc, tiered=False)
    assert rows(ch_admin, db, "stock_levels", "site_id") == [("site-1",)]
    (reason,) = (r for (r,) in rows(ch_admin, db, "rejected_events", "reason"))
    assert f"{other!r} differs from the signing key's agency" in reason, reason


def test_agency_credentials_never_appear_on_a_command_line(
    stack: Settings, unique_name: Callable[..., str], tmp_path: Path, monkeypatch: Any
) -> None:
    """`agency add` and `revoke` set the SCRAM credentials through the admin API: no process
    they start holds the password in its argv (Kafka's ConfigCommand did, ~5 s, as `ps`
    shows), and the credentials work until revoked."""
    launched: list[Any] = []
    popen = subprocess.Popen.__init__

    def spy(self: subprocess.Popen[Any], args: Any, *rest: Any, **options: Any) -> None:
        launched.append(args)
        popen(self, args, *rest, **options)

    monkeypatch.setattr(subprocess.Popen, "__init__", spy)
    agency = unique_name("argv").replace("tierflow_", "argv-")
    settings = stack.model_copy(
        update={"agency_registry_path": tmp_path / "agencies.json", "topic_prefix": agency}
    )
    asyncio.run(create_topics(settings, INPUT_TOPICS))  # revoking reads their end offsets
    properties, _ = add_agency(settings, agency, "health", None, tmp_path / "out")
    login = read_login(properties)
    secret = login.password.get_secret_value()
    assert not [argv for argv in launched if secret in str(argv)]
    assert asyncio.run(logs_in(settings, login))
    wrong = Login(agency, SecretStr(secret + "x"))
    assert not asyncio.run(logs_in(settings, wrong))
    revoke(settings, agency)
    assert not [argv for argv in launched if secret in str(argv)]
    assert not asyncio.run(logs_in(settings, login))


def test_revoke_without_input_topics_names_them(
    stack: Settings, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    """`agency revoke` where the input topics do not exist (before `topics create`, or
    another TIERFLOW_TOPIC_PREFIX) names them and the command that makes them, and changes
    nothing; it used to wait ~40 s and say Kafka "did not answer"."""
    agency = unique_name("bare").replace("tierflow_", "bare-")
    registry = tmp_path / "agencies.json"
    settings = stack.model_copy(update={"agency_registry_path": registry, "topic_prefix": agency})
    properties, _ = add_agency(settings, agency, "health", None, tmp_path / "out")
    env = {"TIERFLOW_AGENCY_REGISTRY_PATH": str(registry)}
    done = run_cli(["agency", "revoke", agency], settings, check=False, env=env)
    assert done.returncode == 1, done.stdout
    line = " ".join(done.stderr.split())
    assert line.startswith("error:") and "did not answer" not in line, line
    assert all(spec.name(agency) in line for spec in INPUT_TOPICS), line
    assert "tierflow topics create" in line, line
    assert load_registry(registry).agencies[agency].revoked_at is None
    assert asyncio.run(logs_in(settings, read_login(properties)))  # still in force


def _declaration(n: int, agency_id: str, region: str) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"decl-{n}", "kind": "incident", "msg_type": "Update",
            "source": {"agency_id": agency_id, "agency_type": "emergency"},
            "occurred_at": f"2026-03-02T10:0{n}:00+08:00",
            "reported_at": f"2026-03-02T10:0{n}:10+08:00",
            "region": region, "incident_id": f"INC-{region}", "category": "mass_casualty",
            "declared_tier": "III", "reason": "joint assessment",
        }
    )  # fmt: skip


def test_an_agency_registered_for_a_city_declares_there_only(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    """`agency add --jurisdiction 5103` (Zigong): its declaration for Zigong (510302) lands
    in the declared timeline; the same agency's declaration for Chengdu (510104) lands in
    the DLQ with its reason and declares nothing."""
    settings = live_settings(stack, unique_name("area"))
    prepare(settings)
    agency = unique_name("em").replace("tierflow_", "em-")
    out = tmp_path / "agencies"
    argv = ["agency", "add", agency, "--type", "emergency", "--jurisdiction", "5103"]
    run_cli([*argv, "--out", str(out)], settings)
    assert "5103" in run_cli(["agency", "list"], settings).stdout
    properties, key_file = out / f"{agency}.properties", out / f"{agency}.key"
    kid, hex_key = key_file.read_text().split()
    incidents = f"{settings.topic_prefix}.incidents.v1"
    for value in (_declaration(1, agency, "510302"), _declaration(2, agency, "510104")):
        header = f"v1;kid={kid};hmac-sha256={_openssl_mac(value, hex_key)}"
        sent = _kcat_produce(properties, incidents, value, header)
        assert sent.returncode == 0, sent.stderr.decode()

    db = settings.clickhouse_database
    with running_worker(settings, tmp_path / "worker.log") as proc:
        wait_landed(ch_admin, db, rejected=1, proc=proc)
    declared = rows(ch_admin, db, "tier_timeline", "jurisdiction, tier, declared_by",
                    "basis = 'declared'")  # fmt: skip
    assert declared == [("5103", "III", agency)]
    ((reason, field),) = rows(ch_admin, db, "rejected_events", "reason, field")
    assert field == "region"
    assert reason.startswith(
        f"declaration outside the agency's jurisdiction: '{agency}' is registered for 5103,"
        " the incident's region is 510104"
    )
