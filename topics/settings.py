"""Settings from the environment (``TIERFLOW_*``), one object for every part.

They live in ``topics`` because the topic prefix is a setting and ``topics`` is the one
package everything else may import. Secrets are ``SecretStr`` so they never print.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
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
    # Partitioning: 4 digits of the region code = city (default), 6 = county.
    jurisdiction_digits: int = Field(default=4, ge=2, le=6)
    # Privacy: key of the HMAC that pseudonymises national ids.
    pseudonym_key: SecretStr = SecretStr("change-me-in-production")
    # Worker
    metrics_port: int = 9108
    rulebook_path: Path | None = None


def load_settings() -> Settings:
    """Read settings from the environment; the only place that does."""
    return Settings()
