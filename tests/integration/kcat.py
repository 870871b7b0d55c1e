"""Running kcat (librdkafka) in tests, on a librdkafka that speaks SCRAM to Kafka 4.

Debian bookworm's librdkafka (2.0.2) fails SCRAM-SHA-512 against Kafka 4 brokers with
"invalid credentials" (fixed in librdkafka 2.6.1); the confluent-kafka wheel (a dev
dependency) bundles a recent one under a hashed name, so kcat is run with a directory
holding ``librdkafka.so.1`` -> that library first on its library path."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import confluent_kafka

from streams.config.kafka_security import credentials, librdkafka_properties
from streams.config.settings import Settings

_LIBS = Path(confluent_kafka.__file__).resolve().parent.parent / "confluent_kafka.libs"


def available() -> bool:
    return shutil.which("kcat") is not None


@functools.cache
def _library_dir() -> Path:
    """A fresh directory of this process holding ``librdkafka.so.1`` -> the wheel's library.

    Fresh per process, not a fixed path under /tmp: a link left there by an earlier run from
    another checkout can dangle (making it again failed with FileExistsError) or point at
    that checkout's library."""
    found = sorted(_LIBS.glob("librdkafka*.so*"))
    if not found:
        raise AssertionError(f"no librdkafka in {_LIBS}: reinstall the dev dependencies")
    folder = Path(tempfile.mkdtemp(prefix="tierflow-kcat-lib-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    (folder / "librdkafka.so.1").symlink_to(found[0])
    return folder


def run(
    args: list[str], *, stdin: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """``kcat ARGS`` with the SCRAM-capable librdkafka (not checked: callers assert)."""
    env = {**os.environ, "LD_LIBRARY_PATH": f"{_library_dir()}:{_LIBS}"}
    return subprocess.run(
        ["kcat", *args], input=stdin, capture_output=True, env=env, timeout=timeout,
        check=False,
    )  # fmt: skip


def as_admin(settings: Settings) -> list[str]:
    """kcat's ``-X`` options speaking as the admin principal."""
    user, password = credentials(settings, "admin")
    props = librdkafka_properties(settings, user, password)
    return [arg for key, value in props.items() for arg in ("-X", f"{key}={value}")]
