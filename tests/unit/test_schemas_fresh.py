"""The checked-in JSON Schemas are what the models generate now."""

from topics.schema import SCHEMA_DIR, render, schemas


def test_checked_in_schemas_are_fresh() -> None:
    stale = [
        name
        for name, schema in schemas().items()
        if not (SCHEMA_DIR / name).exists()
        or (SCHEMA_DIR / name).read_text(encoding="utf-8") != render(schema)
    ]
    assert not stale, f"stale schemas {stale}: run `python -m topics.schema`"
