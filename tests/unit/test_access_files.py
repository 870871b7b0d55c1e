"""ClickHouse's users and roles as files: production's are the same model as the local
stack's (sinks/access.py), and no grant reaches past the tierflow databases."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sinks.access import access_config_xml, check_database_name, login_for, users_xml
from sinks.errors import SinkError
from streams.config.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse"
# What a grant may name: a tierflow or review database family, one of the live database's
# tables, the three catalogue tables each user sees filtered, table engines.
ALLOWED_TARGET = re.compile(
    r"ON (tierflow\*\.\*|review_\*\.\*|tierflow(_exercise)?\.(rejected_events|schema_migrations)"
    r"|system\.(databases|tables|columns)|(Replicated)?(Replacing)?MergeTree)$"
)


def test_production_files_are_the_model_rendered() -> None:
    production = Settings.model_construct()
    assert (DEPLOY / "users.d" / "tierflow.xml").read_text() == users_xml(production, "production")
    assert (DEPLOY / "config.d" / "tierflow.xml").read_text() == access_config_xml()


@pytest.mark.parametrize("name", ["users.d", "config.d"])
def test_production_files_are_well_formed_xml(name: str) -> None:
    # ClickHouse refuses a malformed file at start (a '--' inside a comment once did that
    # to config.d): the strict parser here refuses what it refuses.
    ET.parse(DEPLOY / name / "tierflow.xml")


@pytest.mark.parametrize("target", ["local", "production"])
def test_no_grant_reaches_past_the_tierflow_databases(target: str) -> None:
    root = ET.fromstring(users_xml(Settings(), target))  # type: ignore[arg-type]
    for role in root.findall("roles/*"):
        for query in role.findall("grants/query"):
            text = query.text or ""
            if text == "GRANT KILL QUERY ON *.*":  # `stack down`, local only
                assert (target, role.tag) == ("local", "tierflow_migrate")
                continue
            assert ALLOWED_TARGET.search(text), (role.tag, text)
    users = {user.tag: user for user in root.findall("users/*")}
    assert set(users) == {
        "default",
        "tierflow_migrator",
        "tierflow",
        "grafana",
        "tierflow_reviewer",
    }
    for name, user in users.items():
        grants = [q.text for q in user.findall("grants/query")]
        assert len(grants) == 1 and user.find("access_management") is None, name


def test_local_users_come_from_loopback_only() -> None:
    root = ET.fromstring(users_xml(Settings(), "local"))
    for user in root.findall("users/*"):
        assert sorted(ip.text or "" for ip in user.findall("networks/ip")) == ["127.0.0.1", "::1"]


def test_the_reader_profile_pins_its_limits() -> None:
    profile = ET.fromstring(users_xml(Settings(), "production")).find(
        "profiles/tierflow_command_view"
    )
    assert profile is not None
    assert profile.find("constraints/readonly/const") is not None
    assert profile.findtext("constraints/max_execution_time/max") == profile.findtext(
        "max_execution_time"
    )
    assert profile.findtext("constraints/max_memory_usage/max") == profile.findtext(
        "max_memory_usage"
    )


def test_the_raw_dlq_bytes_are_revoked_in_the_configured_live_database() -> None:
    root = ET.fromstring(users_xml(Settings(clickhouse_database="tierflow_city"), "local"))
    grants = [q.text for q in root.findall("roles/tierflow_read/grants/query")]
    assert "REVOKE SELECT(value_b64) ON tierflow_city.rejected_events" in grants
    assert "REVOKE SELECT(value_b64) ON tierflow_city_exercise.rejected_events" in grants


def test_databases_follow_the_naming_rule() -> None:
    for name in ("tierflow", "tierflow_exercise", "tierflow_t_1f3a", "review_0301"):
        assert check_database_name(name) == name
    for name in ("board_1f3a", "default", "system", "reviews"):
        with pytest.raises(SinkError, match="must start with 'tierflow' or 'review_'"):
            check_database_name(name)
    assert login_for("review_0301", ddl=True) == login_for("review_0301", ddl=False) == "reviewer"
    assert (login_for("tierflow", ddl=True), login_for("tierflow", ddl=False)) == (
        "migrator",
        "writer",
    )
