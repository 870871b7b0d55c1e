"""Settings from the environment (``TIERFLOW_*``), one object for every part.

They live in ``topics`` because the topic prefix is a setting and ``topics`` is the one
package everything else may import. Secrets are ``SecretStr`` so they never print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """tierflow's settings; every field can be set as ``TIERFLOW_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="TIERFLOW_", extra="ignore")

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:19092"
    topic_prefix: str = "tierflow"
    replication_factor: int = 1
    # ClickHouse (HTTP, clickhouse-connect)
    clickhouse_url: str = "http://127.0.0.1:18123"
    clickhouse_user: str = "tierflow"
    clickhouse_password: SecretStr = SecretStr("tierflow")
    clickhouse_database: str = "tierflow"
    # Read-only user the command view (Grafana, `tierflow board`) uses.
    clickhouse_reader_user: str = "grafana"
    clickhouse_reader_password: SecretStr = SecretStr("grafana")
    # Local stack
    stack_home: Path = Field(default=Path("var/stack"))
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    clickhouse_http_port: int = 18123
    clickhouse_tcp_port: int = 19000
    # Where `stack up` keeps the Kafka jars fetched from Maven Central (git-ignored).
    kafka_cache: Path = Field(default=Path(".cache/kafka"))
    # Partitioning: 4 digits of the region code = city (default), 6 = county.
    jurisdiction_digits: int = Field(default=4, ge=2, le=6)
    # Privacy: key of the HMAC that pseudonymises national ids.
    pseudonym_key: SecretStr = SecretStr("change-me-in-production")
    # Worker
    metrics_port: int = 9108
    metrics_host: str = "127.0.0.1"  # 0.0.0.0 where Prometheus scrapes from elsewhere
    rulebook_path: Path | None = None
    # Clock ticks the worker writes into the log: "wall" = wall clock; "event" = the
    # highest Actual occurred_at seen (capped at the wall clock), for scenario replays.
    tick_clock: Literal["wall", "event"] = "wall"
    tick_interval_s: float = Field(default=5.0, gt=0)
    # Decide-stage batches: at most this many records, or what arrived within the wait.
    worker_batch_max: int = Field(default=5_000, ge=1)
    worker_batch_wait_s: float = Field(default=0.1, gt=0)
    # How often the decide stage puts its changed states in the changelog and commits:
    # encoding a state is O(state), so not after every batch.
    worker_commit_interval_s: float = Field(default=2.0, ge=0)
    # What a worker process runs: "all" (decide and land), or one of them, so that the
    # landing can run in a second process (on a second core) beside the deciding one.
    worker_stages: Literal["all", "decide", "land"] = "all"
    # The decide stage's watchdog: exit 75 (a supervisor restarts the worker) when records
    # have waited this long with no commit. Far above one batch and one state flush (and
    # the intake's longest commit spacing, 60 s); tests shorten it.
    worker_stall_exit_s: float = Field(default=300.0, gt=0)
    # How often a worker lands its heartbeat (table worker_heartbeats): the board's
    # freshness line says "stale" after three missed beats.
    worker_heartbeat_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _addresses_follow_stack_ports(self) -> Settings:
        # Moving the local stack's ports (TIERFLOW_KAFKA_PORT …) must move every client
        # with it, unless the address itself was set (a remote Kafka or ClickHouse).
        if "kafka_bootstrap" not in self.model_fields_set:
            self.kafka_bootstrap = f"127.0.0.1:{self.kafka_port}"
        if "clickhouse_url" not in self.model_fields_set:
            self.clickhouse_url = f"http://127.0.0.1:{self.clickhouse_http_port}"
        return self


def load_settings() -> Settings:
    """Read settings from the environment; the only place that does."""
    return Settings()
