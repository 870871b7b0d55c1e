"""Fixtures every test may use, and the `integration` marker for tests/integration."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from streams.config.settings import Settings

_INTEGRATION_DIR = Path(__file__).parent / "integration"

# Properties are checked by what they find, not by how long an example takes: a busy
# 2-core CI machine must not turn a slow example into a failure (DeadlineExceeded).
hypothesis_settings.register_profile("tierflow", deadline=None)
hypothesis_settings.load_profile("tierflow")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration needs the real stack: mark it `integration`."""
    for item in items:
        if _INTEGRATION_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Settings from the environment (``TIERFLOW_*``), as the CLI would read them."""
    return Settings()


@pytest.fixture
def unique_name() -> Callable[..., str]:
    """A factory of collision-free names for per-test databases, topic prefixes …:
    ``unique_name()`` → ``tierflow_t_1f3a…``, ``unique_name("live")`` →
    ``tierflow_live_9c0d…``. Valid as a ClickHouse identifier and in a Kafka topic name,
    and inside the tierflow databases the ClickHouse users' grants cover (sinks/access.py)."""

    def make(prefix: str = "t") -> str:
        return f"tierflow_{prefix}_{uuid.uuid4().hex[:12]}"

    return make
