"""The decide stage's states in a Faust table whose changelog records the worker sends
itself, in each partition's commit transaction (:mod:`streams.live.fencing`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from streams.stages.topology import partition_for
from topics.errors import TierflowError


class ChangelogError(TierflowError):
    """A state was not written to the changelog: no offset may be committed past it."""

    @classmethod
    def not_written(cls, topic: str, key: bytes, blob: bytes, exc: Exception) -> ChangelogError:
        return cls(
            f"the state of jurisdiction {key.decode()} ({len(blob)} bytes) was not written to "
            f"{topic}: {type(exc).__name__}: {exc}; no offset is committed past it"
        )


class TableStore:
    """:class:`streams.stages.decide.StateStore` over a Faust table of bytes keyed by the
    jurisdiction's bytes, written the Faust way (the roll-up stage's: its agent's commits
    are Faust's). ``use_partitioner`` sends each key's changelog record to murmur2(key)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, jurisdiction: str) -> bytes | None:
        blob = self.table.get(jurisdiction.encode())
        return blob if isinstance(blob, bytes) else None

    def put(self, jurisdiction: str, blob: bytes) -> None:
        self.table[jurisdiction.encode()] = blob

    def jurisdictions(self) -> Iterator[str]:
        return (key.decode() for key in self.table)

    @property
    def changelog(self) -> str:
        return str(self.table.changelog_topic.get_topic_name())

    async def writable(self) -> None:
        """Wait until the producer knows the changelog topic's partitions. A table write
        picks its changelog partition from the producer's metadata at once (eager
        partitioning) and raises ``TypeError`` when the producer has not seen the topic
        yet — a changelog created moments ago, right after a cold start. Cheap once known."""
        client = self.table.app.producer._ensure_producer().client  # aiokafka's
        await client._wait_on_metadata(self.changelog)


class DecideStateStore(TableStore):
    """The decide stage's states: ``put`` sets the table's local copy only;
    :meth:`take_unsent` hands the changed states to the commit, which sends their changelog
    records in the partition's transaction and waits for every acknowledgement
    (:mod:`streams.live.fencing`). Faust's own table write only queues the record
    (``send_soon``) and a failed send surfaces in a callback alone, so offsets could be
    committed past a state the changelog never got. A record goes to the jurisdiction's
    partition, murmur2(key) — the partition the decide stage reads that jurisdiction from,
    which is what Faust's recovery expects (DESIGN.md section 7)."""

    def __init__(self, table: Any) -> None:
        super().__init__(table)
        self._unsent: dict[bytes, bytes] = {}

    def put(self, jurisdiction: str, blob: bytes) -> None:
        key = jurisdiction.encode()
        self.table.data[key] = blob  # the local copy: the commit sends the changelog record
        self._unsent[key] = blob

    def take_unsent(self) -> dict[int, dict[bytes, bytes]]:
        """The states put since the last call, by changelog partition (key -> state)."""
        unsent, self._unsent = self._unsent, {}
        out: dict[int, dict[bytes, bytes]] = {}
        for key, blob in unsent.items():
            out.setdefault(partition_for(key.decode()), {})[key] = blob
        return out
