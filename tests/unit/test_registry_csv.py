"""The facility registry as CSV (issue 15 item 3): the same registry as its YAML form, and
errors naming the file, the line and the field."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.core.registry import RegistryError
from streams.core.registry_csv import parse_registry_csv
from streams.core.rulebook_loader import load_registry

EXAMPLE = Path(__file__).parents[2] / "streams" / "registries" / "sichuan-example.yaml"


def as_csv(path: Path) -> str:
    """The YAML example written as CSV, column by column (an independent rendering)."""
    registry = load_registry(path)
    out = io.StringIO()
    out.write(f"# the example registry as CSV\n# version: {registry.version}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "name", "type", "designation", "level", "lat", "lon", "jurisdiction"])
    for f in registry.facilities:
        lat, lon = (f.location.lat, f.location.lon) if f.location else ("", "")
        writer.writerow([f.id, f.name, f.type, f.designation, f.level, lat, lon, f.jurisdiction])
    return out.getvalue()


def test_the_csv_form_reads_as_the_yaml_form(tmp_path: Path) -> None:
    path = tmp_path / "sichuan.csv"
    path.write_text(as_csv(EXAMPLE), encoding="utf-8")
    assert load_registry(path) == load_registry(EXAMPLE)


def test_empty_cells_take_the_defaults() -> None:
    text = "# version: v1\nid,name,jurisdiction,designation,lat,lon\nH1,一院,5101,,,\n"
    (facility,) = parse_registry_csv(text).facilities
    assert (facility.designation, facility.level, facility.location) == ("none", "other", None)


BAD = """\
# version: v2
id,name,type,designation,level,lat,lon,jurisdiction
H1,一院,hospital,designated,tertiary,30.6,104.0,5101
H2,二院,hospital,appointed,tertiary,30.6,104.0,5101
H3,三院,hospital,reserve,tertiary,95,104.0,5101
H1,重复,hospital,none,other,,,5101
"""


def test_errors_name_the_file_the_line_and_the_field() -> None:
    with pytest.raises(RegistryError) as caught:
        parse_registry_csv(BAD, "reg.csv")
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("reg.csv:4: facilities[1].designation: Input should be")
    assert lines[1].startswith("reg.csv:5: facilities[2].lat: Input should be less than")
    assert len(lines) == 2  # the duplicate id is a cross check, after the schema's errors
    fixed = BAD.replace("appointed", "reserve").replace(",95,", ",30.5,")
    with pytest.raises(RegistryError, match=r"^reg.csv:6: facilities\[3\].id: duplicate"):
        parse_registry_csv(fixed, "reg.csv")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# version: v\nid,name,beds,jurisdiction\n", r"<registry.csv>:2: beds: unknown column"),
        ("# version: v\nid,name\n", r"<registry.csv>:2: jurisdiction: required column missing"),
        ("# version: v\nid,name,lat,jurisdiction\n", r"<registry.csv>:2: lat, lon: give both"),
        ("# version: v\nid,name,jurisdiction\nH1,a\n", r":3: facilities\[0\]: 2 fields where"),
        ("id,name,jurisdiction\nH1,a,5101\n", r"<registry.csv>:1: version: Input should be"),
        ("# nothing here\n", r"<registry.csv>:1: no header line"),
    ],
)
def test_a_bad_file_says_what_and_where(text: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        parse_registry_csv(text)


def test_registry_check_reads_csv(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(as_csv(EXAMPLE), encoding="utf-8")
    bad.write_text(BAD, encoding="utf-8")
    result = CliRunner().invoke(
        app, ["registry", "check", str(good), str(bad)], env={"COLUMNS": "400"}
    )
    assert result.exit_code == 1
    assert "registry version 2026.1-example OK" in result.output
    assert f"{bad}:4: facilities[1].designation" in result.output
