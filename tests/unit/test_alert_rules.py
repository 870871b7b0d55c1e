"""deploy/prometheus/alerts.yml: promtool accepts the rules, and its rule tests
(alerts.test.yml) see each alert fire on the series it watches and stay quiet before."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
ALERTS = {
    "TierflowPartitionStalled",
    "TierflowLagGrowing",
    "TierflowDlqRate",
    "TierflowLandingErrors",
    "KafkaUnderReplicatedPartitions",
    "KafkaBrokerOffline",
}
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="no promtool")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60, check=False
    )


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    done = _promtool("check", "rules", "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_each_alert_fires_on_what_it_watches() -> None:
    done = _promtool("test", "rules", "alerts.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_issue_s_alerts_are_there_and_tested() -> None:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    names = {r["alert"] for group in rules["groups"] for r in group["rules"]}
    assert names == ALERTS
    tested = set(re.findall(r"alertname: (\w+)", (PROMETHEUS / "alerts.test.yml").read_text()))
    assert tested == ALERTS


def test_prometheus_loads_the_rules_compose_mounts() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    compose = (PROMETHEUS.parent / "docker-compose.yml").read_text()
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in compose
