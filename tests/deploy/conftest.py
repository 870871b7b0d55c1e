"""The deploy tests run the compose stack (deploy/docker-compose.yml) under dockerd: only
with TIERFLOW_DEPLOY_TEST=1 (`make test-deploy`), never in `make test`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .compose import ComposeStack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("TIERFLOW_DEPLOY_TEST") == "1":
        return
    skip = pytest.mark.skip(reason="the compose stack's tests: `make test-deploy` runs them")
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    """The compose stack with the `cluster` profile (3 brokers, RF 3, min ISR 2), two
    decide workers and a landing process, up for the session and removed after it (its
    containers' logs kept under var/deploy-test/logs)."""
    stack = ComposeStack(tmp_path_factory.mktemp("agencies"))
    with pytest.MonkeyPatch.context() as patch:
        # The integration helpers read the credentials from the environment's settings.
        for name, value in stack.host_env().items():
            patch.setenv(name, value)
        try:
            stack.up()  # (a failed start is taken down too)
            yield stack
        finally:
            if os.environ.get("TIERFLOW_DEPLOY_KEEP") != "1":  # 1: left up to look into
                stack.down()
