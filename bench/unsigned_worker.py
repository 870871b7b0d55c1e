"""``python -m bench.unsigned_worker``: the live worker with signature verification off, for
bench/signing_e2e.py only (what verification costs end to end, side by side). It decides
as a replay of a JSONL file does: no key ring, so records are taken unsigned. Never a
deployment entry point: a deployed worker always verifies (streams/live/app.py)."""

import runpy

import streams.live.app as live_app


def _no_keys(settings: object) -> None:
    return None


live_app._key_source = _no_keys  # type: ignore[assignment]
runpy.run_module("streams.live", run_name="__main__")
