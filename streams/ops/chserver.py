"""The local ClickHouse server: a dedicated process that serves one chdb data directory.

``tierflow stack up`` starts it as ``python -m streams.ops.chserver CONF_DIR DATA_DIR``.
chdb serves only through ``chdb._chdb.query`` run from the directory that holds
``config.xml`` (DESIGN.md §7): the query opens the HTTP and native listeners, then blocks
on :data:`SERVE_SQL` until ``stack down`` kills that query over HTTP. One engine run per
process, so this process never queries anything itself.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

# A query that sleeps for ~30 years, one row per second; `stack down` finds it by the
# `sleepEachRow` marker and kills it, which ends the engine run and this process.
SERVE_SQL = (
    "SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; "
    "SELECT sleepEachRow(1) FROM numbers(1000000000) "
    "SETTINGS max_block_size=1, function_sleep_max_microseconds_per_block=0"
)


def serve(conf_dir: Path, data_dir: Path) -> int:
    """Serve ``data_dir`` with the ``config.xml`` in ``conf_dir`` until the serving query
    is killed; returns the process exit code (0 when stopped by ``KILL QUERY``)."""
    os.chdir(conf_dir)
    # Imported only now: importing chdb opens a session configured from the cwd.
    engine = importlib.import_module("chdb._chdb")
    # Errors come back in the result (the engine also prints them on stderr).
    result = engine.query(SERVE_SQL, "TSV", path=str(data_dir))
    if result.has_error() and "QUERY_WAS_CANCELLED" not in result.error_message():
        print(f"chserver: {result.error_message()}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    """Entry point: ``CONF_DIR DATA_DIR``."""
    if len(argv) != 2:
        print("usage: python -m streams.ops.chserver CONF_DIR DATA_DIR", file=sys.stderr)
        return 2
    return serve(Path(argv[0]).resolve(), Path(argv[1]).resolve())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
