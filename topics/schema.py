"""JSON Schema of every topic's values, generated into ``topics/schemas/``.

The files are checked in so that agency integrators can validate before they publish;
``python -m topics.schema`` regenerates them and a test fails when they are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from topics.models import InputEvent
from topics.registry import ALL_TOPICS

SCHEMA_DIR = Path(__file__).parent / "schemas"


def schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, for the input union and each topic's model."""
    out: dict[str, dict[str, Any]] = {
        "input-event.schema.json": TypeAdapter(InputEvent).json_schema(),
    }
    for spec in ALL_TOPICS:
        out[f"{spec.stem}.v1.schema.json"] = spec.model.model_json_schema()
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema file; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = directory / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_schemas():
        sys.stdout.write(f"{written_path}\n")
