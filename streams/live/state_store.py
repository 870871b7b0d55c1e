"""The decide stage's states in a Faust table whose changelog records the worker sends
itself, in each partition's commit transaction (:mod:`streams.live.fencing`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from streams.stages.state_records import RecordStore
from topics.errors import TierflowError


class ChangelogError(TierflowError):
    """A state was not written to the changelog: no offset may be committed past it."""

    @classmethod
    def not_written(
        cls, topic: str, key: bytes, blob: bytes | None, exc: Exception
    ) -> ChangelogError:
        size = 0 if blob is None else len(blob)
        return cls(
            f"the state record {key.decode()} ({size} bytes) was not written to "
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


class DecideStateStore(RecordStore):
    """The decide stage's states in the worker's Faust table: :meth:`flush` sets the
    table's local copy only; :meth:`take_unsent` hands the records to the commit, which
    sends them in the partition's transaction and waits for every acknowledgement
    (:mod:`streams.live.fencing`). Faust's own table write only queues the record
    (``send_soon``) and a failed send surfaces in a callback alone, so offsets could be
    committed past a state the changelog never got. A record goes to its jurisdiction's
    partition, murmur2(jurisdiction) — the partition the decide stage reads that
    jurisdiction from, which is what Faust's recovery expects (DESIGN.md section 7)."""

    def __init__(self, table: Any, rulebook: Any) -> None:
        super().__init__(table.data, rulebook)
        self.table = table

    @property
    def changelog(self) -> str:
        return str(self.table.changelog_topic.get_topic_name())
