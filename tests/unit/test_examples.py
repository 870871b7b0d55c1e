"""The examples integrators copy (``examples/``) are valid events, checked by the models
(our codec) and by the JSON Schemas with a validator we did not write (jsonschema); and
every field of the wire schemas says what it means."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from topics.codec import KINDS, decode
from topics.outputs import Rejection
from topics.registry import TOPIC_FOR_KIND
from topics.schema import SCHEMA_DIR

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FILES = sorted(EXAMPLES.glob("*.json"))


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return loaded


def test_there_is_one_example_per_kind() -> None:
    assert {p.stem for p in FILES} >= set(KINDS)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_example_is_valid_for_the_models_and_the_schemas(path: Path) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    decoded = decode(json.dumps(event, ensure_ascii=False).encode())
    assert not isinstance(decoded, Rejection), decoded
    assert decoded.kind == event["kind"]  # type: ignore[attr-defined]
    jsonschema.Draft202012Validator(schema("input-event.schema.json")).validate(event)
    topic = TOPIC_FOR_KIND[event["kind"]]
    jsonschema.Draft202012Validator(schema(f"{topic.stem}.v1.schema.json")).validate(event)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"on_hand": -1}, "-1 is less than the minimum of 0"),
        ({"region": "5101"}, "'5101' does not match"),
        ({"item": None}, "None is not of type 'string'"),
    ],
)
def test_the_schema_check_can_fail(change: dict[str, Any], complaint: str) -> None:
    event = {**json.loads((EXAMPLES / "stock.json").read_text(encoding="utf-8")), **change}
    with pytest.raises(jsonschema.ValidationError, match=complaint):
        jsonschema.Draft202012Validator(schema("stock.v1.schema.json")).validate(event)
    assert isinstance(decode(json.dumps(event).encode()), Rejection)


def _undescribed(node: Any, path: str) -> list[str]:
    """Properties without a description, anywhere in a schema."""
    found: list[str] = []
    if isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            if "description" not in prop:
                found.append(f"{path}.{name}")
        for key, value in node.items():
            found += _undescribed(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _undescribed(value, f"{path}[{i}]")
    return found


@pytest.mark.parametrize(
    "name",
    ["input-event.schema.json", *(f"{t.stem}.v1.schema.json" for t in TOPIC_FOR_KIND.values())],
)
def test_every_input_field_is_described(name: str) -> None:
    assert _undescribed(schema(name), name) == []
