"""Kafka plumbing shared by the CLI commands: topic creation and a keyed, idempotent
producer. Thin: it knows topic names only through ``topics.registry``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from streams.config.kafka_security import Principal, aiokafka_options
from streams.config.settings import Settings
from topics.errors import TierflowError
from topics.registry import ALL_TOPICS, CASES, DAY_MS, TopicSpec

log = logging.getLogger("tierflow.kafka")


class KafkaUnavailable(TierflowError):
    """The broker did not answer."""


# How long a created topic may take to show in the broker's metadata (1.5-3 s seen on a
# single KRaft broker on this machine class) before create_topics gives up.
TOPIC_READY_TIMEOUT_S = 60.0
STAMP_CONFIG = "message.timestamp.type"


@dataclass(frozen=True)
class TopicOutcome:
    name: str
    partitions: int
    created: bool


def _no_answer(settings: Settings) -> str:
    return (
        f"Kafka at {settings.kafka_bootstrap} did not answer: start the stack "
        "(`tierflow stack up`) or check TIERFLOW_KAFKA_BOOTSTRAP"
    )


@asynccontextmanager
async def admin_client(
    settings: Settings, principal: Principal = "admin"
) -> AsyncIterator[AIOKafkaAdminClient]:
    """An admin client speaking as ``principal`` (the admin principal by default)."""
    admin = AIOKafkaAdminClient(**aiokafka_options(settings, principal))
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        await admin.close()
        raise KafkaUnavailable(_no_answer(settings)) from exc
    try:
        yield admin
    finally:
        await admin.close()


def topic_configs(spec: TopicSpec, settings: Settings) -> dict[str, str]:
    """A topic's configs at creation. Every input topic is stamped by the broker on
    arrival (LogAppendTime): the decide stage refuses a record reported later than the
    broker received it (streams/core/checks.py), a bound no producer can move, and the
    same in a review as live. The raw cases (national ids, names) are kept
    ``cases_retention_days`` counted from that arrival (an old event must not vanish on
    arrival); the worker keeps what it decided, pseudonymised, in the decided topic for
    good."""
    configs = {"retention.ms": str(spec.retention_ms)}
    if spec.role == "input":
        configs[STAMP_CONFIG] = "LogAppendTime"
    if spec is CASES:
        configs["retention.ms"] = str(int(settings.cases_retention_days * DAY_MS))
    return configs


async def create_topics(
    settings: Settings, specs: Iterable[TopicSpec] = ALL_TOPICS, principal: Principal = "admin"
) -> list[TopicOutcome]:
    """Create every topic of ``specs`` that does not exist yet (idempotent), as
    ``principal`` (the worker may: it holds CREATE on topics, streams/ops/kafka_acl.py)."""
    wanted = list(specs)
    outcomes = []
    async with admin_client(settings, principal) as admin:
        existing = set(await admin.list_topics())
        for spec in wanted:
            name = spec.name(settings.topic_prefix)
            if name in existing:
                outcomes.append(TopicOutcome(name, spec.partitions, created=False))
                continue
            topic = NewTopic(
                name,
                num_partitions=spec.partitions,
                replication_factor=settings.replication_factor,
                topic_configs=topic_configs(spec, settings),
            )
            try:
                await admin.create_topics([topic])
                outcomes.append(TopicOutcome(name, spec.partitions, created=True))
            except TopicAlreadyExistsError:  # created concurrently by another worker
                outcomes.append(TopicOutcome(name, spec.partitions, created=False))
        await _until_served(admin, {o.name: o.partitions for o in outcomes})
    return outcomes


async def producer_stamped(settings: Settings, names: list[str]) -> set[str]:
    """Those of the topics ``names`` whose records carry their producer's timestamp
    (CreateTime), asked as the admin: an input topic created before tierflow made them
    LogAppendTime, whose records the decide stage cannot bound by their arrival."""
    wanted = {STAMP_CONFIG: None}
    async with admin_client(settings, "admin") as admin:
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, configs=wanted) for name in names]
        )
    return {
        resource["resource_name"]
        for response in described
        for resource in response.to_object()["resources"]
        for entry in resource["config_entries"]
        if entry["config_names"] == STAMP_CONFIG and entry["config_value"] != "LogAppendTime"
    }


async def _until_served(admin: AIOKafkaAdminClient, partitions: dict[str, int]) -> None:
    """Wait until the broker's metadata lists every topic with a leader for each of its
    partitions. A topic just created is unknown there for a second or more; a producer
    sending to it meanwhile logs an error per metadata retry and Faust's eager partitioning
    fails outright, so callers get topics that are ready to use."""
    deadline = time.monotonic() + TOPIC_READY_TIMEOUT_S
    waiting = dict(partitions)
    while waiting:
        for topic in await admin.describe_topics(list(waiting)):
            leaders = [p["leader"] for p in topic["partitions"]]
            served = topic["error_code"] == 0 and all(leader >= 0 for leader in leaders)
            if served and len(leaders) >= waiting.get(topic["topic"], 0):
                waiting.pop(topic["topic"], None)
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise KafkaUnavailable(
                f"topics not served by the broker {TOPIC_READY_TIMEOUT_S:.0f} s after "
                f"creation: {', '.join(sorted(waiting))}"
            )
        await asyncio.sleep(0.1)


@asynccontextmanager
async def idempotent_producer(
    settings: Settings, principal: Principal = "admin"
) -> AsyncIterator[AIOKafkaProducer]:
    """A producer with acks=all and idempotence: a retried send is written once. It speaks
    as ``principal``: the admin by default (publishing on behalf of agencies, each record
    signed with its agency's key), or an agency's own login (``publish --as``)."""
    producer = AIOKafkaProducer(
        **aiokafka_options(settings, principal),
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=512 * 1024,
    )
    try:
        await producer.start()
    except KafkaConnectionError as exc:
        await producer.stop()  # release what start() opened before it failed
        raise KafkaUnavailable(_no_answer(settings)) from exc
    try:
        yield producer
    finally:
        await producer.stop()
