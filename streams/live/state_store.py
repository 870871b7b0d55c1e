"""The stages' states in Faust tables whose changelog records the worker sends itself, in
each partition's commit transaction (:mod:`streams.live.fencing`)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from streams.stages.state_records import RecordStore
from streams.stages.topology import PARTITIONS, partition_for
from topics.errors import TierflowError


class ChangelogError(TierflowError):
    """A state was not written to the changelog: no offset may be committed past it."""

    @classmethod
    def not_written(
        cls, topic: str, records: Sequence[tuple[bytes, bytes | None]], exc: Exception
    ) -> ChangelogError:
        """``records``: the (key, state record) pairs the broker refused together (one
        produce batch), named by the largest, the likeliest cause of a size refusal."""
        sizes = [(0 if blob is None else len(blob), key) for key, blob in records]
        size, key = max(sizes)
        what = f"the state record {key.decode()} ({size} bytes) was"
        if len(records) > 1:
            total = sum(s for s, _ in sizes)
            what = (
                f"{len(records)} state records ({total} bytes in one batch, the largest "
                f"{key.decode()} of {size} bytes) were"
            )
        return cls(
            f"{what} not written to {topic}: {type(exc).__name__}: {exc}; "
            "no offset is committed past it"
        )


class _ReadBack:
    """A stage's states in a Faust table whose store is a
    :class:`streams.live.changelog_read.ReadAheadStore`: its changelog is read back by
    :meth:`refill` on every claim (:class:`streams.live.fencing.PartitionCommitter`), never
    by Faust's recovery."""

    def __init__(self, table: Any, kafka: Mapping[str, Any]) -> None:
        self.table = table
        self.kafka = kafka  # aiokafka client options

    @property
    def changelog(self) -> str:
        return str(self.table.changelog_topic.get_topic_name())

    async def refill(self, partitions: frozenset[int]) -> None:
        """Make the local copy the changelog's committed records of ``partitions``, read in
        bulk, so Faust's recovery then starts where this read ended; then :meth:`reloaded`.
        A copy that only Faust's recovery kept up went wrong after a fenced commit: the
        commit drops the lost partitions from the copy, and Faust, taking a partition back,
        read on from where it had stopped, not from the beginning (the zombie test's lost
        roll-up timeline)."""
        await self.table.data.refill(self.kafka, self.changelog, partitions)
        self.reloaded()

    def reloaded(self) -> None:
        """Drop what was derived from the local copy (nothing here)."""


class FencedStateStore(_ReadBack):
    """:class:`streams.stages.decide.StateStore` over a Faust table of bytes keyed by the
    area's bytes, for a fenced stage: the roll-up stage's states (``partitions=1``; the
    decide stage's are per-key records, :class:`DecideStateStore`). ``put`` sets the
    table's local copy only; :meth:`take_unsent` hands the changed states to the commit,
    which sends their changelog records in the partition's transaction and waits for every
    acknowledgement (:mod:`streams.live.fencing`). Faust's own table write only queues the
    record (``send_soon``), a failed send surfaces in a callback alone, and a paused worker
    that lost the partition would still send it; so offsets could be committed past a state
    the changelog never got, or a zombie's state land over the new owner's. A record goes
    to murmur2(key) — the partition the stage reads that key's records from, which is what
    Faust's recovery expects (DESIGN.md section 7)."""

    def __init__(self, table: Any, kafka: Mapping[str, Any], partitions: int = PARTITIONS) -> None:
        super().__init__(table, kafka)
        self.partitions = partitions  # of the table's changelog
        self._unsent: dict[bytes, bytes] = {}

    def get(self, jurisdiction: str) -> bytes | None:
        blob = self.table.get(jurisdiction.encode())
        return blob if isinstance(blob, bytes) else None

    def put(self, jurisdiction: str, blob: bytes) -> None:
        key = jurisdiction.encode()
        self.table.data[key] = blob  # the local copy: the commit sends the changelog record
        self._unsent[key] = blob

    def jurisdictions(self) -> Iterator[str]:
        return (key.decode() for key in self.table)

    def drop_partitions(self, partitions: Collection[int]) -> None:
        """Remove the local copy's states of ``partitions``, as
        :meth:`streams.stages.state_records.RecordStore.drop_partitions` does."""
        data = self.table.data
        for key in [k for k in data if partition_for(k.decode(), self.partitions) in partitions]:
            del data[key]

    def take_unsent(self) -> dict[int, dict[bytes, bytes]]:
        """The states put since the last call, by changelog partition (key -> state)."""
        unsent, self._unsent = self._unsent, {}
        out: dict[int, dict[bytes, bytes]] = {}
        for key, blob in unsent.items():
            out.setdefault(partition_for(key.decode(), self.partitions), {})[key] = blob
        return out


class DecideStateStore(RecordStore, _ReadBack):
    """The decide stage's states as per-key records in the worker's Faust table
    (:class:`streams.stages.state_records.RecordStore` over the table's local copy, which
    the worker's own read of the changelog fills at each claim, :meth:`refill`):
    :meth:`take_unsent` hands the records :meth:`flush` encoded to the commit, which sends
    them in the partition's transaction and waits for every acknowledgement
    (:mod:`streams.live.fencing`), for the reasons :class:`FencedStateStore` gives. A
    record goes to its jurisdiction's partition, murmur2(jurisdiction) — the partition the
    decide stage reads that jurisdiction from, which is what Faust's recovery expects
    (DESIGN.md section 7)."""

    def __init__(self, table: Any, rulebook: Any, kafka: Mapping[str, Any]) -> None:
        RecordStore.__init__(self, table.data, rulebook)
        _ReadBack.__init__(self, table, kafka)
