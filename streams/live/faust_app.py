"""The worker's Faust app: its settings, and its Kafka consumer with a short fetch wait.

Faust builds its consumer with ``fetch_max_wait_ms=1500`` written into its code. A broker
answers a connection's requests one at a time, so each offset lookup of Faust's table
recovery (highwaters, earliest offsets, then the read to the highwater) waited behind a
fetch long-polling for 1.5 s: about 4 s added to every rebalance, whatever the size of the
state (BENCHMARKS.md, issue 14, recovery). This consumer waits at most
:data:`FETCH_WAIT_MS`. It reads only the ticks topic (the partitions the worker holds),
the roll-up feed and the tables' changelogs, so the extra empty fetches cost little.

The app takes it as its ``broker_consumer`` transport (:data:`SCHEME`); the producer
keeps Faust's own.

Faust's table manager waits a second at start for tables still to be defined; the
worker's are all defined before it starts, so its manager (:class:`_Tables`) does not wait:
a second of every start and restart.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.tables import TableManager
from faust.transport import drivers
from faust.transport.drivers import aiokafka as driver

from streams.config.kafka_security import credentials, ssl_context
from streams.config.settings import Settings
from streams.stages.topology import PARTITIONS

FETCH_WAIT_MS = 100

# Core states can outgrow Kafka's default 1 MB record limit on a long incident.
MAX_STATE_BYTES = 32 << 20


class _Thread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read by the consumer's start(), which builds its fetcher (aiokafka 0.14).
        consumer._fetch_max_wait_ms = FETCH_WAIT_MS
        return consumer


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return _Thread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    """Faust's aiokafka transport, its consumer waiting at most :data:`FETCH_WAIT_MS`."""

    Consumer = _Consumer


# Faust finds a transport by its URL's scheme in this registry (where "kafka" is).
SCHEME = "tierflow-kafka"
drivers.TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"


class _Tables(TableManager):
    """Faust's table manager (faust-streaming 0.15.3) without its sleep of 1 s before it
    starts the tables' channels and recovery; a table defined after that raises (Faust's
    "Too late to add tables")."""

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


def _faust_credentials(settings: Settings) -> faust.SASLCredentials:
    """The worker principal, as Faust passes it to its aiokafka clients (SASL_SSL when a
    TLS context is given)."""
    username, password = credentials(settings, "worker")
    return faust.SASLCredentials(
        username=username,
        password=password,
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=ssl_context(settings),
    )


def faust_app(settings: Settings) -> Any:
    """The worker's Faust app (not yet given its tables, agents and timers)."""
    datadir = settings.stack_home / "worker" / settings.topic_prefix
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        f"{settings.topic_prefix}.decide",
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        broker_consumer=[f"{SCHEME}://{host}" for host in settings.kafka_bootstrap.split(",")],
        broker_credentials=_faust_credentials(settings),
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        datadir=str(datadir),
        topic_partitions=PARTITIONS,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        producer_acks=-1,
        # No linger: this producer sends the decide journal, which each batch waits for
        # before it is decided, and the ticks; both are a record per partition
        producer_linger_ms=0,
        producer_max_request_size=MAX_STATE_BYTES,
        stream_recovery_delay=0.2,
        # A worker that died without leaving the group holds its partitions until the
        # session times out (Faust's default: 60 s), so a restart waits that long. 10 s is
        # well above one decide batch, which holds the event loop (and so the heartbeats).
        broker_session_timeout=10.0,
        # ... unless the restart has the same static member id: then it replaces the
        # killed member at once (settings.worker_instance_id).
        consumer_group_instance_id=settings.worker_instance_id,
        # A group formed before the broker knew the ticks topic's partitions assigns none
        # of them (seen right after a cold start); fresher metadata makes the consumer
        # notice them and rebalance within seconds instead of Kafka's default 5 minutes.
        consumer_metadata_max_age_ms=10_000,
        # The memory store keeps a standby copy in RAM per replica; recovery from the
        # changelog is the fallback instead.
        table_standby_replicas=0,
        TableManager=_Tables,
    )
    return app
