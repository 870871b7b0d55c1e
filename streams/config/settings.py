"""Settings from the environment (``TIERFLOW_*``), one object for every process.

Process settings, not wire ones: ``topics`` takes the topic prefix and the jurisdiction
digits as arguments and never reads them. Secrets are ``SecretStr`` so they never print.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from topics.errors import TierflowError


class Settings(BaseSettings):
    """tierflow's settings; every field can be set as ``TIERFLOW_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="TIERFLOW_", extra="ignore")

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:19092"
    # --- Kafka authentication (streams/config/kafka_security.py builds the clients' options) ---
    # SASL_PLAINTEXT on the local stack (loopback); SASL_SSL in production, with the CA
    # that signed the brokers' certificates (None: the system's trust store).
    kafka_security_protocol: Literal["SASL_PLAINTEXT", "SASL_SSL"] = "SASL_PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_ca_file: Path | None = None
    # The local stack's broker key and certificate chain (one PEM file, key unencrypted)
    # when it serves SASL_SSL; production brokers are configured by their operators.
    kafka_ssl_keystore: Path | None = None
    # The worker's principal: reads the inputs and ticks, writes outputs, changelogs, DLQ
    # and ticks (the live worker and `tierflow replay`).
    kafka_username: str = "worker"
    kafka_password: SecretStr = SecretStr("tierflow-worker")
    # The admin principal (a super user): topics, ACLs, agencies, `tierflow publish`.
    kafka_admin_username: str = "admin"
    kafka_admin_password: SecretStr = SecretStr("tierflow-admin")
    # The registry of agencies and their signing keys (`tierflow agency`; secrets: 0600,
    # never in git). None: <stack_home>/agencies.json.
    agency_registry_path: Path | None = None
    # Where `tierflow publish --as ID` finds ID.properties and ID.key (the --out folder of
    # `tierflow agency add`) when --credentials is not given.
    agency_credentials_dir: Path | None = None
    # --- end of Kafka authentication ---------------------------------------------------
    topic_prefix: str = "tierflow"
    replication_factor: int = 1
    # ClickHouse (HTTP, clickhouse-connect)
    clickhouse_url: str = "http://127.0.0.1:18123"
    clickhouse_database: str = "tierflow"
    # --- ClickHouse users, least privilege (sinks/access.py has their grants) ---------
    # The writer: INSERT and SELECT on the tierflow databases (the worker's landing).
    clickhouse_user: str = "tierflow"
    clickhouse_password: SecretStr = SecretStr("tierflow")
    # The command view's reader (Grafana, `tierflow board`): SELECT on the command-view
    # tables, a constrained read-only profile.
    clickhouse_reader_user: str = "grafana"
    clickhouse_reader_password: SecretStr = SecretStr("grafana")
    # The migrator: DDL on the tierflow and review databases (`tierflow db migrate`).
    clickhouse_migrator_user: str = "tierflow_migrator"
    clickhouse_migrator_password: SecretStr = SecretStr("tierflow_migrator")
    # The reviewer: creates, fills and reads review_* databases (`tierflow replay`).
    clickhouse_reviewer_user: str = "tierflow_reviewer"
    clickhouse_reviewer_password: SecretStr = SecretStr("tierflow_reviewer")
    # --- end of the ClickHouse users ----------------------------------------------------
    # Local stack
    stack_home: Path = Field(default=Path("var/stack"))
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    clickhouse_http_port: int = 18123
    clickhouse_tcp_port: int = 19000
    # Where `stack up` keeps the Kafka jars fetched from Maven Central (git-ignored).
    kafka_cache: Path = Field(default=Path(".cache/kafka"))
    # How long the raw cases topic (national ids, names) keeps a record after the broker
    # received it; what the worker decided on stays, pseudonymised, in the decided topic.
    cases_retention_days: float = Field(default=7.0, gt=0)
    # Partitioning: 4 digits of the region code = city (default), 6 = county.
    jurisdiction_digits: int = Field(default=4, ge=2, le=6)
    # Privacy: key of the HMAC that pseudonymises national ids.
    pseudonym_key: SecretStr = SecretStr("change-me-in-production")
    # Worker
    metrics_port: int = 9108
    metrics_host: str = "127.0.0.1"  # 0.0.0.0 where Prometheus scrapes from elsewhere
    rulebook_path: Path | None = None
    # A facility registry (YAML or CSV) in place of the one the rulebook names or holds:
    # reference data a deployment keeps apart from the national rules.
    registry_path: Path | None = None
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
    # The landing gathers what arrives for up to this long after a fetch that returned
    # records (or until 20 000 are held) and lands it as one insert per table: ClickHouse
    # makes a part of every insert, and one per fetch at a steady rate cost it most of a
    # core. 0: land every fetch as it comes.
    worker_landing_linger_s: float = Field(default=1.0, ge=0)
    # What a worker process runs: "all" (decide and land), or one of them, so that the
    # landing can run in a second process (on a second core) beside the deciding one.
    worker_stages: Literal["all", "decide", "land"] = "all"
    # A landing process (worker_stages "land") lowers its own CPU priority by this much
    # (nice) when it starts: where it shares cores with the decide stage, a decision waits
    # less for a core, and rows, which wait in the decided log, land later. On 2 cores at
    # 5,500 records/s the p99 of decided_at went from 77-110 to 64-74 ms (274-700 to
    # 99-594 ms in a slower hour); BENCHMARKS.md, twentieth session. 0: unchanged.
    worker_landing_niceness: int = Field(default=10, ge=0, le=19)
    # The decide stage's watchdog: exit 75 (a supervisor restarts the worker) when records
    # have waited this long with no commit. Far above one batch and one state flush (and
    # the intake's longest commit spacing, 60 s); tests shorten it.
    worker_stall_exit_s: float = Field(default=300.0, gt=0)
    # Static group membership (Kafka's group.instance.id), one id per worker that is
    # restarted in place (a supervisor, a container): its restart takes its partitions
    # back at once instead of waiting for the killed process's session to time out. A
    # member with an id does not leave the group when it stops, so a worker stopped for
    # good holds its partitions for the session timeout. None: dynamic membership.
    worker_instance_id: str | None = None
    # A review's periodic checkpoint saves in a forked child, on the other core (states
    # are immutable: the child's copy-on-write view is the point). The child copies the
    # pages it reads, up to the states' size (2.7 GiB at 5 M bench events): false on a
    # machine without that memory to spare, and the saves pause the review instead.
    review_save_in_child: bool = True
    # How many processes decide a review, each the jurisdictions of its share of the
    # partitions (streams/replay/workers.py): a review in one process is bound by that
    # process under the GIL (a review of 1 M bench events: 0.63-0.64 of the ceiling in
    # one process, 0.79-0.84 in two; BENCHMARKS.md, twenty-sixth session). None: one per
    # core, at most one per partition (6). 1: the review's own process decides (also
    # where there is no fork), and review_save_in_child applies; workers encode their own
    # states for a save.
    review_workers: int | None = Field(default=None, ge=1, le=64)
    # How often a worker lands its heartbeat (table worker_heartbeats): the board's
    # freshness line says "stale" after three missed beats.
    worker_heartbeat_s: float = Field(default=10.0, gt=0)
    # The zone people read times in (the board, the after-action report): an IANA name.
    # Everything is stored and decided in UTC; this changes only what is shown.
    display_tz: str = "Asia/Shanghai"

    @field_validator("display_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name, e.g. Asia/Shanghai)"
            ) from exc
        return value

    def agency_registry(self) -> Path:
        """Where the registry of agencies and keys lives."""
        return self.agency_registry_path or self.stack_home / "agencies.json"

    def display_zone(self) -> ZoneInfo:
        """The zone of :attr:`display_tz`."""
        return ZoneInfo(self.display_tz)

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


# --- development secrets: refused outside the local stack (issue 12, item 7) -----------
# Every secret setting whose default is a development value. Their defaults are public
# (they are in this file), so they are refused as soon as Kafka or ClickHouse is not on
# this machine. A new secret is one more line here.
DEV_SECRETS: tuple[str, ...] = (
    "clickhouse_password",
    "clickhouse_reader_password",
    "clickhouse_migrator_password",
    "clickhouse_reviewer_password",
    "pseudonym_key",
    "kafka_password",
    "kafka_admin_password",
)


# The exit status of a command refused for a development secret (sysexits' EX_CONFIG).
EXIT_DEV_SECRET = 78


class DevSecretError(TierflowError):
    """A development secret is set while a server is not on loopback."""


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost: never assumed local


def remote_servers(settings: Settings) -> list[str]:
    """The configured Kafka and ClickHouse addresses that are not on loopback, as
    ``"Kafka at host:port"`` / ``"ClickHouse at URL"``."""
    remote = [
        f"Kafka at {server}"
        for server in (s.strip() for s in settings.kafka_bootstrap.split(","))
        if server and not _is_loopback(urlsplit(f"//{server}").hostname or server)
    ]
    if not _is_loopback(urlsplit(settings.clickhouse_url).hostname or ""):
        remote.append(f"ClickHouse at {settings.clickhouse_url}")
    return remote


# What a worker uses: not the Kafka admin's login (`tierflow topics create` makes its
# topics and ACLs; streams/live/runner.py).
WORKER_SECRETS: tuple[str, ...] = tuple(s for s in DEV_SECRETS if s != "kafka_admin_password")


def refuse_dev_secrets(settings: Settings, secrets: tuple[str, ...] = DEV_SECRETS) -> None:
    """Raise DevSecretError, a one-line message naming the setting, when any setting of
    ``secrets`` (those the command uses) still has its development default while Kafka or
    ClickHouse is not on loopback; return quietly on the local stack or with every secret
    set."""
    remote = remote_servers(settings)
    if not remote:
        return
    for name in secrets:
        default = Settings.model_fields[name].default
        if getattr(settings, name) == default:
            raise DevSecretError(
                f"TIERFLOW_{name.upper()} is the development default; set a secret of your"
                f" own before using {remote[0]} (not loopback)"
            )
