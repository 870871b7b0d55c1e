"""Signing what tierflow publishes on behalf of agencies (``tierflow publish``, ``simulate``,
the demo): each input record gets its agency's ``tierflow-sig`` header (topics/signing.py).

By default a record is signed with the newest key in force of its own ``source.agency_id``
(from the registry); ``--as ID`` and ``--key-file`` sign every record with one agency's key
(its key file). Ticks are the worker's and are never signed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from streams.config.settings import Settings
from topics.agencies import (
    Agency,
    Registry,
    load_registry,
    read_key_file,
    save_registry,
)
from topics.signing import KEY_BYTES, SigningKey, sign_headers

if TYPE_CHECKING:
    from topics.routing import OutgoingRecord

Headers = list[tuple[str, bytes]]


def newest_key(registry: Registry, agency_id: str) -> SigningKey | None:
    """The agency's newest key in force (None: none, or the agency is revoked)."""
    agency = registry.agencies.get(agency_id)
    if agency is None or agency.revoked_at is not None:
        return None
    usable = [k for k in registry.keys_of(agency_id) if k.revoked_at_offsets is None]
    return usable[-1] if usable else None


class RecordSigner:
    """Signs records with agency keys: ``keys`` by agency id, or ``forced`` for all."""

    def __init__(
        self, keys: Mapping[str, tuple[str, bytes]], forced: tuple[str, bytes] | None = None
    ) -> None:
        self.keys = dict(keys)
        self.forced = forced

    @classmethod
    def from_registry(cls, settings: Settings) -> RecordSigner:
        registry = load_registry(settings.agency_registry())
        keys = {}
        for agency_id in registry.agencies:
            key = newest_key(registry, agency_id)
            if key is not None:
                keys[agency_id] = (key.kid, key.secret_bytes())
        return cls(keys)

    @classmethod
    def from_key_file(cls, path: Path) -> RecordSigner:
        return cls({}, read_key_file(path))

    def unsigned(self, records: Iterable[OutgoingRecord]) -> list[str]:
        """Agencies of ``records`` this signer has no key for (sorted)."""
        if self.forced is not None:
            return []
        return sorted(
            {r.agency_id for r in records if r.agency_id and r.agency_id not in self.keys}
        )

    def headers(self, record: OutgoingRecord) -> Headers | None:
        """The record's signature headers (None: a tick, or a record no agency sends)."""
        if record.agency_id is None:
            return None
        kid, secret = self.forced or self.keys[record.agency_id]
        return sign_headers(kid, secret, record.value)


def register_keys(settings: Settings, agencies: Iterable[tuple[str, str]]) -> list[str]:
    """Give each ``(agency id, agency type)`` not in the registry a signing key (no Kafka
    principal: for agencies whose records an operator publishes on their behalf, as the
    demo and the simulator do); returns the ids added. Idempotent."""
    path = settings.agency_registry()
    registry = load_registry(path)
    now = datetime.now(UTC)
    added = []
    for agency_id, agency_type in sorted(set(agencies)):
        if agency_id in registry.agencies:
            continue
        registry.agencies[agency_id] = Agency(
            agency_id=agency_id,
            agency_type=agency_type,
            name=agency_id,
            created_at=now,
        )
        registry.keys.append(new_key(registry, agency_id, agency_type, now))
        added.append(agency_id)
    if added:
        save_registry(path, registry)
    return added


def register_senders(settings: Settings, records: Iterable[OutgoingRecord]) -> list[str]:
    """:func:`register_keys` for the agencies that send ``records`` (a scenario's)."""
    return register_keys(
        settings,
        ((r.agency_id, r.agency_type) for r in records if r.agency_id and r.agency_type),
    )


def new_key(
    registry: Registry,
    agency_id: str,
    agency_type: str,
    now: datetime,
    jurisdiction: str | None = None,
) -> SigningKey:
    """The agency's next key (``<agency id>.k<n>``), with fresh random bytes; it carries the
    agency's ``jurisdiction`` (None: anywhere)."""
    number = len(registry.keys_of(agency_id)) + 1
    return SigningKey(
        kid=f"{agency_id}.k{number}",
        agency_id=agency_id,
        agency_type=agency_type,
        secret=SecretStr(secrets.token_hex(KEY_BYTES)),
        created_at=now,
        jurisdiction=jurisdiction,
    )
