"""What the worker checks before it lands anything: the databases are migrated. Waiting
heals a server that is still starting or a migration not run yet; it does not heal an
applied migration edited since or ClickHouse refusing the user, so those end the worker
with one line naming the cause (exit 78) instead of a retry loop."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import NoReturn

from clickhouse_connect.driver.exceptions import ClickHouseError

from sinks.errors import MigrationError, SinkError
from sinks.namespaces import unmigrated_namespaces
from streams.commands.failures import explain, refused_for_good
from streams.config.settings import Settings

log = logging.getLogger("tierflow.live")

EXIT_CANNOT_HEAL = 78  # EX_CONFIG: an edited applied migration, ClickHouse refusing the user


async def wait_until_migrated(settings: Settings) -> None:
    """Return once the live and exercise databases are migrated. The worker's user may not
    run DDL: `tierflow db migrate` (the migrator; production's init service) creates the
    databases; until then the landing waits, consuming nothing. What waiting cannot heal
    (an applied migration edited since, ClickHouse refusing the user) is raised."""
    delay = 1.0
    while True:
        try:
            waiting = await asyncio.to_thread(
                unmigrated_namespaces, settings, settings.clickhouse_database
            )
        except MigrationError:
            raise
        except (SinkError, ClickHouseError) as exc:
            if refused_for_good(exc):
                raise
            # the server down or starting: keep trying
            waiting, reason = [settings.clickhouse_database], f"cannot ask ClickHouse: {exc}"
        else:
            reason = "run `tierflow db migrate`"
        if not waiting:
            return
        log.warning("%s not migrated yet (%s); retry in %.0fs", waiting, reason, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10.0)


def stop_for_good(exc: BaseException) -> NoReturn:
    """End the process at once (exit 78) with one ``error:`` line naming the cause, for an
    error no restart heals (a supervisor restarting the worker would only repeat it)."""
    sys.stderr.write(f"error: {explain(exc) or exc}\n")
    sys.stderr.flush()
    os._exit(EXIT_CANNOT_HEAL)
