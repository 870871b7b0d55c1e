"""What `tierflow publish` says about a file before anything is sent: every problem of a
line with its field, a byte order mark taken in stride, a pretty-printed file recognised,
an empty file refused (no Kafka needed: nothing valid is published here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from streams.cli import app
from streams.ops.publisher import UTF8_BOM, plan_lines

EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "case.json").read_text(encoding="utf-8")
)


def publish(tmp_path: Path, content: bytes) -> Any:
    source = tmp_path / "events.jsonl"
    source.write_bytes(content)
    return CliRunner().invoke(app, ["publish", str(source)], env={"COLUMNS": "200"}), source


def test_every_problem_of_a_line_is_named_with_its_field(tmp_path: Path) -> None:
    bad = {**EXAMPLE, "classification": "maybe", "occurred_at": "yesterday", "region": "51"}
    del bad["case_id"]
    result, source = publish(tmp_path, json.dumps(bad).encode() + b"\n")
    assert result.exit_code == 1
    named = sorted(
        ln.split(": ")[1] for ln in result.stderr.splitlines() if ln.startswith(str(source))
    )
    assert named == ["case_id", "classification", "occurred_at", "region"]
    assert "1 invalid line(s); nothing published" in result.stderr
    assert ": -:" not in result.stderr


def test_a_byte_order_mark_is_accepted() -> None:
    line = json.dumps(EXAMPLE).encode()
    records, errors = plan_lines([UTF8_BOM + line, line.replace(b"000042", b"000043")], 4)
    assert errors == [] and len(records) == 2
    assert records[0].value == line  # sent without the mark


def test_a_pretty_printed_array_gets_the_one_object_per_line_hint(tmp_path: Path) -> None:
    result, source = publish(tmp_path, json.dumps([EXAMPLE, EXAMPLE], indent=2).encode())
    assert result.exit_code == 1
    assert "JSON array of 2 items" in result.stderr and "one JSON object per line" in result.stderr
    assert len([ln for ln in result.stderr.splitlines() if ln.startswith(str(source))]) == 1


def test_a_multi_line_object_gets_the_hint(tmp_path: Path) -> None:
    result, _ = publish(tmp_path, json.dumps(EXAMPLE, indent=2).encode())
    assert result.exit_code == 1
    assert "one JSON object over several lines" in result.stderr


def test_an_empty_file_is_refused_with_a_warning(tmp_path: Path) -> None:
    for content in (b"", b"\n  \n"):
        result, source = publish(tmp_path, content)
        assert result.exit_code == 1
        assert f"{source} holds no event" in " ".join(result.stderr.split())
