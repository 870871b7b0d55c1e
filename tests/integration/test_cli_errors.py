"""Every CLI failure an operator meets in the first week is one line that names the next
step, with a non-zero exit and no traceback: a topic that does not exist (the broker
creates none), ClickHouse or Kafka down (a private port where nothing listens), a review
or a file that is not there. Ctrl-C in `publish` says how far it got."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.config.settings import Settings
from tests.integration.kafka_helpers import admin_options
from topics.registry import INPUT_TOPICS, TICKS

from .kafka_helpers import TIERFLOW, read_topic, run_cli, settings_env
from .live_support import ROOT, free_port, simulate

MARCH = ["--from", "2026-03-01T00:00:00Z", "--to", "2026-04-01T00:00:00Z"]


@pytest.fixture
def isolated(stack: Settings, unique_name) -> Settings:  # type: ignore[no-untyped-def]
    """The stack's settings with a topic prefix and database of this test's own."""
    name = unique_name("cli")
    return stack.model_copy(update={"topic_prefix": name, "clickhouse_database": name})


def one_line_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """The single line ``proc`` wrote to stderr, which must say ``error:`` and each of
    ``needles``; ``proc`` exited ``code`` and printed no traceback."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == code, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


async def _broker_config(settings: Settings) -> dict[str, str]:
    admin = AIOKafkaAdminClient(**admin_options(settings.kafka_bootstrap))
    await admin.start()
    try:
        (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")])
    finally:
        await admin.close()
    (resource,) = response.resources
    return {entry[0]: entry[1] for entry in resource[4]}


async def _topics(settings: Settings) -> list[str]:
    admin = AIOKafkaAdminClient(**admin_options(settings.kafka_bootstrap))
    await admin.start()
    try:
        return [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix)]
    finally:
        await admin.close()


def test_publish_to_missing_topics_says_to_create_them_and_publishes_nothing(
    isolated: Settings, tmp_path: Path
) -> None:
    assert asyncio.run(_broker_config(isolated))["auto.create.topics.enable"] == "false"
    simulate("road-mci", 1, tmp_path / "mci.jsonl")
    proc = run_cli(
        ["publish", str(tmp_path / "mci.jsonl"), "--skip-invalid"], isolated, check=False
    )
    lines = proc.stderr.splitlines()
    assert not [x for x in lines if "Traceback" in x]
    (line,) = [x for x in lines if x.startswith("error: ")]
    assert "run `tierflow topics create` first (nothing was published)" in line
    assert proc.returncode == 1
    assert asyncio.run(_topics(isolated)) == []  # and the broker created none


def test_clickhouse_down_is_one_line(isolated: Settings, tmp_path: Path) -> None:
    run_cli(["topics", "create"], isolated)  # Kafka is up: the replay gets to ClickHouse
    down = isolated.model_copy(update={"clickhouse_url": f"http://127.0.0.1:{free_port()}"})
    home = {"TIERFLOW_STACK_HOME": str(tmp_path)}  # the review's checkpoint: this test's own
    for args in (["board"], ["review", "diff", "aar1"], ["replay", "--name", "aar1", *MARCH]):
        proc = run_cli(args, down, check=False, env=home)
        one_line_error(
            proc, 1, f"ClickHouse at {down.clickhouse_url} did not answer", "tierflow stack up"
        )


def test_kafka_down_is_one_line(isolated: Settings, tmp_path: Path) -> None:
    down = isolated.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    simulate("road-mci", 1, tmp_path / "mci.jsonl")
    for args in (
        ["publish", str(tmp_path / "mci.jsonl"), "--skip-invalid"],
        ["topics", "create"],
        ["replay", "--name", "aar1", *MARCH],
    ):
        # a stack home of its own, but the stack's agencies: publish signs before it sends
        env = {
            "TIERFLOW_STACK_HOME": str(tmp_path),
            "TIERFLOW_AGENCY_REGISTRY_PATH": str(isolated.agency_registry().resolve()),
        }
        proc = run_cli(args, down, check=False, env=env)
        lines = [x for x in proc.stderr.splitlines() if x.startswith("error: ")]
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode == 1 and len(lines) == 1, proc.stderr
        assert f"Kafka at {down.kafka_bootstrap} did not answer" in lines[0]


def test_what_is_not_there_is_named_with_the_next_step(isolated: Settings, tmp_path: Path) -> None:
    missing = run_cli(["review", "diff", "nosuch"], isolated, check=False)
    one_line_error(missing, 1, "no review 'nosuch'", "tierflow replay --name nosuch")
    no_file = tmp_path / "nope.jsonl"
    home = {"TIERFLOW_STACK_HOME": str(tmp_path)}
    proc = run_cli(
        ["replay", "--name", "x", "--from-file", str(no_file)], isolated, check=False, env=home
    )
    one_line_error(proc, 2, f"cannot read {no_file}")
    bad = run_cli(["board"], isolated, check=False, env={"TIERFLOW_WORKER_STALL_EXIT_S": "soon"})
    one_line_error(bad, 1, "setting TIERFLOW_WORKER_STALL_EXIT_S")


# Runs its arguments with SIGINT's default action (an exec keeps it; an ignored one would
# be inherited).
DEFAULT_SIGINT = (
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])",
)


def test_ctrl_c_in_publish_says_how_many_records_reached_kafka(
    isolated: Settings, tmp_path: Path
) -> None:
    simulate("cholera", 1, tmp_path / "cholera.jsonl")
    run_cli(["topics", "create"], isolated)
    env = {**os.environ, **settings_env(isolated), "COLUMNS": "200"}
    args = ["publish", str(tmp_path / "cholera.jsonl"), "--skip-invalid", "--rate", "10"]
    # A terminal's Ctrl-C: SIGINT as the default action, whatever this run inherited (a
    # suite started in the background of a shell ignores SIGINT, and so would the child).
    proc = subprocess.Popen(
        [*DEFAULT_SIGINT, *TIERFLOW, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(8)  # start-up, then some of the 253 records at 10/s (25 s in all)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    (line,) = [x for x in err.splitlines() if x.startswith("interrupted:")]
    assert "Traceback" not in err
    assert "publishing the same file again is safe: event ids deduplicate" in line
    reached = int(line.split()[1].replace(",", ""))
    in_kafka = sum(
        len(read_topic(isolated.kafka_bootstrap, spec.name(isolated.topic_prefix)))
        for spec in (*INPUT_TOPICS, TICKS)
    )
    assert 0 < reached == in_kafka
