"""``python -m streams.live``: the same as ``tierflow worker``."""

from streams.live.runner import run_worker
from topics.settings import load_settings

run_worker(load_settings())
