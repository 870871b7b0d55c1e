"""The registry of agencies and their signing keys, and what changes it on the broker.

The registry (topics/agencies.py) is data the worker and ``tierflow replay`` load. ``agency add``
gives an agency its SCRAM credentials (the admin API, :mod:`streams.ops.kafka_scram`), its ACLs
(:mod:`streams.ops.kafka_acl`) and a first key; ``rotate`` adds a key (the old ones stay
valid until revoked); ``revoke`` locks the credentials (a password nobody keeps:
:func:`streams.ops.kafka_scram.lockout` says why not a deletion), removes the ACLs and
revokes the keys as of the input topics' current end offsets (:mod:`topics.signing` says
why offsets).
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import SecretStr, ValidationError

from streams.config.kafka_security import aiokafka_options, librdkafka_properties, render_properties
from streams.config.settings import Settings
from streams.ops import kafka_acl, kafka_scram
from streams.ops.kafka import admin_client
from streams.ops.record_signer import new_key
from topics.agencies import (
    RESERVED,
    Agency,
    AgencyError,
    Registry,
    load_registry,
    save_registry,
    write_key_file,
    write_private,
)
from topics.registry import INPUT_TOPICS
from topics.signing import SigningKey
from topics.vocabulary import AgencyType


def add_agency(  # noqa: PLR0917 - the command's arguments, in its order
    settings: Settings,
    agency_id: str,
    agency_type: AgencyType,
    name: str | None,
    out: Path,
    jurisdiction: str | None = None,
) -> tuple[Path, Path]:
    """Create the agency's SCRAM credentials, ACLs and first key; write
    ``OUT/<id>.properties`` (kcat -F) and ``OUT/<id>.key``; return both paths. With a
    ``jurisdiction`` (2, 4 or 6 digits) its declarations of a tier count only there."""
    if agency_id in RESERVED:
        raise AgencyError(f"{agency_id!r} is reserved for tierflow's own principals")
    path = settings.agency_registry()
    registry = load_registry(path)
    known = registry.agencies.get(agency_id)
    if known is not None and known.revoked_at is None:
        raise AgencyError(
            f"agency {agency_id!r} exists: `tierflow agency rotate {agency_id}` for a new key"
        )
    now = datetime.now(UTC)
    try:
        agency = Agency(
            agency_id=agency_id,
            agency_type=agency_type,
            name=name or agency_id,
            created_at=now,
            jurisdiction=jurisdiction,
        )
    except ValidationError as exc:
        field = exc.errors()[0]["loc"][0]
        if field == "jurisdiction":
            raise AgencyError(
                f"jurisdiction {jurisdiction!r}: a province (2 digits), city (4) or county (6)"
                " code of GB/T 2260"
            ) from exc
        raise AgencyError(f"agency id {agency_id!r}: letters, digits, '.-_' (1-63)") from exc
    password = SecretStr(secrets.token_urlsafe(24))
    asyncio.run(_scram(settings, agency_id, add=password))
    asyncio.run(_grant(settings, agency_id))
    key = new_key(registry, agency_id, agency_type, now, jurisdiction)
    registry.agencies[agency_id] = agency
    registry.keys.append(key)
    save_registry(path, registry)
    properties = out / f"{agency_id}.properties"
    props = librdkafka_properties(settings, agency_id, password.get_secret_value())
    write_private(properties, render_properties(props))
    return properties, write_key_file(out, key)


def rotate_key(settings: Settings, agency_id: str, out: Path) -> tuple[SigningKey, Path]:
    """A new key for the agency (the old ones stay valid until revoked)."""
    path = settings.agency_registry()
    registry = load_registry(path)
    agency = _current(registry, agency_id)
    key = new_key(registry, agency_id, agency.agency_type, datetime.now(UTC), agency.jurisdiction)
    registry.keys.append(key)
    save_registry(path, registry)
    return key, write_key_file(out, key)


def revoke(settings: Settings, agency_id: str, kid: str | None = None) -> list[str]:
    """Revoke one key (``kid``) or the whole agency (credentials, ACLs, every key); returns
    the key ids revoked. Records of the input topics from now on signed with them are
    refused; records already in the log stay accepted (replays decide as live did)."""
    path = settings.agency_registry()
    registry = load_registry(path)
    _current(registry, agency_id)
    targets = [k for k in registry.keys_of(agency_id) if k.revoked_at_offsets is None]
    if kid is not None:
        targets = [k for k in targets if k.kid == kid]
        if not targets:
            raise AgencyError(f"agency {agency_id!r} has no key {kid!r} in force")
    ends = asyncio.run(_input_end_offsets(settings))
    for key in targets:
        key.revoked_at_offsets = ends
    if kid is None:
        asyncio.run(_revoke_acls(settings, agency_id))
        asyncio.run(_scram(settings, agency_id, add=None))
        registry.agencies[agency_id].revoked_at = datetime.now(UTC)
    save_registry(path, registry)
    return [k.kid for k in targets]


def _current(registry: Registry, agency_id: str) -> Agency:
    agency = registry.agencies.get(agency_id)
    if agency is None or agency.revoked_at is not None:
        raise AgencyError(f"no agency {agency_id!r} in force: `tierflow agency list` shows them")
    return agency


async def _grant(settings: Settings, agency_id: str) -> None:
    async with admin_client(settings) as admin:
        await kafka_acl.grant(admin, kafka_acl.agency_acls(settings, agency_id))


async def _revoke_acls(settings: Settings, agency_id: str) -> None:
    async with admin_client(settings) as admin:
        await kafka_acl.revoke_all(admin, agency_id)


async def _input_end_offsets(settings: Settings) -> dict[str, dict[int, int]]:
    """The end offset of every partition of the input topics; AgencyError naming the
    input topics the broker does not have (asking for their offsets would only time out)."""
    consumer = AIOKafkaConsumer(**aiokafka_options(settings, "admin"))
    try:
        await consumer.start()
        names = [spec.name(settings.topic_prefix) for spec in INPUT_TOPICS]
        missing = sorted(set(names) - await consumer.topics())
        if missing:
            raise AgencyError(
                f"Kafka at {settings.kafka_bootstrap} lacks the input"
                f" topic{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
                f" (TIERFLOW_TOPIC_PREFIX={settings.topic_prefix}): a revocation takes effect"
                " at the input topics' end offsets; `tierflow topics create` makes them"
            )
        ends: dict[str, dict[int, int]] = {}
        for spec in INPUT_TOPICS:
            topic = spec.name(settings.topic_prefix)
            tps = [TopicPartition(topic, p) for p in range(spec.partitions)]
            offsets = await consumer.end_offsets(tps)
            ends[topic] = {tp.partition: offset for tp, offset in offsets.items()}
        return ends
    finally:
        await consumer.stop()


async def _scram(settings: Settings, username: str, *, add: SecretStr | None) -> None:
    """Set (``add``: the password) or lock (``None``) the user's SCRAM-SHA-512 credentials
    through the admin API, as the admin: the password is salted and hashed here and never
    appears on a command line (:mod:`streams.ops.kafka_scram`)."""
    request = kafka_scram.lockout(username) if add is None else kafka_scram.upsertion(username, add)
    async with admin_client(settings) as admin:
        await kafka_scram.alter(admin, request)
