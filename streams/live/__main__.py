"""``python -m streams.live``: the same as ``tierflow worker``."""

import sys

from streams.config.settings import (
    EXIT_DEV_SECRET,
    WORKER_SECRETS,
    DevSecretError,
    load_settings,
    refuse_dev_secrets,
)
from streams.live.runner import run_worker

settings = load_settings()
try:
    refuse_dev_secrets(settings, WORKER_SECRETS)
except DevSecretError as exc:
    print(f"tierflow worker: {exc}", file=sys.stderr)
    sys.exit(EXIT_DEV_SECRET)
run_worker(settings)
