"""The privacy scan of the live tests: no raw national id or name of what was published
may appear in any table or output topic."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings
from streams.stages.topology import LIVE_TOPICS
from topics.registry import ALL_TOPICS

from .kafka_helpers import read_topic
from .live_support import TABLES

_RESIDENT_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{12,}={0,2}")


def _personal_values(value: Any, found: set[str]) -> None:
    """Every ``national_id`` and ``name`` string of a JSON value, at any depth."""
    if isinstance(value, dict):
        for field, item in value.items():
            if field in ("national_id", "name") and isinstance(item, str) and item:
                found.add(item)
            _personal_values(item, found)
    elif isinstance(value, list):
        for item in value:
            _personal_values(item, found)


def with_personal_extras(lines: list[bytes], every: int = 3) -> list[bytes]:
    """``lines`` with personal data planted in every ``every``-th case, transfer and
    incident: a contact's national id and name, a resident id in a note and one as an
    18-digit number, all in extra fields, and a resident id in an incident's headline.
    Extra fields are kept unread, so decisions stay the same; the privacy scan finds each
    planted value wherever it goes."""
    out, seen = [], 0
    for raw in lines:
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError:
            event = None
        if not isinstance(event, dict) or event.get("kind") not in ("case", "transfer", "incident"):
            out.append(raw)
            continue
        seen += 1
        if seen % every:
            out.append(raw)
            continue
        event["contact"] = {
            "national_id": f"1101011980{seen:08d}",
            "name": f"联系人{seen}",
            "note": f"证件号 3301061988{seen:08d}",
        }
        event["refs"] = [int(f"4401061975{seen:08d}")]
        if isinstance(event.get("headline"), str):
            event["headline"] += f" (caller 5101041966{seen:08d})"
        out.append(orjson.dumps(event))
    return out


def published_secrets(lines: list[bytes]) -> set[str]:
    """The raw personal data of published lines: national ids and names at any depth of
    JSON lines, and anything shaped like a resident id in any line, JSON or not."""
    secrets: set[str] = set()
    for raw in lines:
        secrets.update(_RESIDENT_ID.findall(raw.decode("utf-8", "replace")))
        try:
            _personal_values(json.loads(raw), secrets)
        except ValueError:
            continue
    return secrets


def exposed_text(blob: bytes) -> str:
    """What a reader can get out of ``blob``: its text, plus the decoded bytes of every
    base64-looking run in it (the DLQ's ``value_b64``, a key), recursively once."""
    text = blob.decode("utf-8", "replace")
    decoded = []
    for run in _BASE64.findall(text):
        try:
            decoded.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode("utf-8", "replace"))
        except ValueError:
            continue
    return "\n".join((text, *decoded))


def assert_no_personal_data(ch: Client, settings: Settings, lines: list[bytes]) -> None:
    """No raw national id or name of the published lines in any table of the live and
    exercise databases, nor in any output or internal topic, the DLQ included: base64 is
    decoded before searching."""
    secrets = published_secrets(lines)
    if not secrets:
        return
    database = settings.clickhouse_database
    for db in (database, f"{database}_exercise"):
        for table in TABLES:
            rows = ch.query(f"SELECT * FROM {db}.{table}").result_rows
            text = exposed_text("\n".join("\t".join(map(str, r)) for r in rows).encode())
            leaked = [s for s in secrets if s in text]
            assert not leaked, f"{db}.{table} holds raw personal data: {leaked[:3]}"
    prefix = settings.topic_prefix
    outputs = [spec.name(prefix) for spec in (*ALL_TOPICS, *LIVE_TOPICS) if spec.role != "input"]
    for topic in outputs:
        records = read_topic(settings.kafka_bootstrap, topic)
        text = exposed_text(b"\n".join((key or b"") + b"\t" + value for key, value, _ in records))
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"{topic} holds raw personal data: {leaked[:3]}"
