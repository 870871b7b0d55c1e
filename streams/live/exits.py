"""How a worker ends itself when a stage cannot go on: at once, with an exit code its
supervisor reads (the worker is restarted and resumes from the committed offsets)."""

from __future__ import annotations

import logging
import os
from typing import NoReturn

from streams.live import metrics

log = logging.getLogger("tierflow.live")

EXIT_STAGE_FAILED = 70  # EX_SOFTWARE: a stage raised; the supervisor restarts the worker
EXIT_STALLED = 75  # EX_TEMPFAIL: the decide stage stopped committing with records waiting


def stop_hard(stage: str, records: int) -> NoReturn:
    """Log the exception being handled and end the process at once (exit 70).

    Decoding never raises on input, so an exception here is a bug or a broken dependency.
    A Faust agent that raises is left dead without a word and the intake would wait for
    it forever. Exiting before the intake commits the batch means a restarted worker
    decides it again (at-least-once; the core is idempotent)."""
    log.critical(
        "%s stage failed (batch of %d records); exiting so that nothing is committed past it",
        stage,
        records,
        exc_info=True,
    )
    os._exit(EXIT_STAGE_FAILED)


def exit_if_stalled(
    tracker: metrics.CommitTracker, topics: tuple[str, ...], threshold_s: float
) -> None:
    """Exit 75 when records have waited ``threshold_s`` for the decide stage with no
    commit (measured from when they began to wait, so a quiet spell counts for nothing):
    Faust consumers are known to stop fetching or processing without an error, and a
    restarted worker resumes from the committed offsets (nothing is lost)."""
    stuck = tracker.stalled(topics, threshold_s)
    if stuck:
        log.critical(
            "decide stage stalled: records waited over %.0fs with no commit on %s; exiting",
            threshold_s,
            stuck,
        )
        os._exit(EXIT_STALLED)
