"""The tables' changelogs (decide and roll-up states) read back in bulk, by the worker
itself, before Faust's recovery.

Faust's recovery hands every changelog record through its consumer, an event and its
recovery loop one at a time: ~2.6 k records/s, so 2 minutes for the ~320 k records of
1 M bench events, and a city with a million cases would take over 6 minutes to come back
after a crash (BENCHMARKS.md, issue 14). A plain consumer's ``getmany`` reads the same
partitions a hundred times faster. So on each rebalance the worker reads its claimed
partitions itself (:func:`read_changelog`), fills the table's local copy, and tells
Faust's recovery where that read ended (:class:`ReadAheadStore`), which then has nothing
left to read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, MutableMapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust import stores
from faust.stores.memory import Store
from faust.types import TP

from streams.live.state_store import ChangelogError
from streams.stages.state_records import apply_records

# Give up when a partition's read has not moved for this long (a broker gone for good):
# the rebalance fails and the worker exits, to be restarted, rather than hang in it.
STUCK_S = 60.0


async def read_changelog(
    kafka: Mapping[str, Any],
    topic: str,
    partitions: Collection[int],
    into: MutableMapping[bytes, bytes],
) -> dict[int, int]:
    """Apply every committed record of ``partitions`` of ``topic``, from the beginning to
    the end (the last stable offset at the start) in log order, to ``into``: a value is
    set, a tombstone (None) deletes its key. Records of aborted transactions are skipped.
    Returns each partition's end offset (the offset of the next record). Raises
    ChangelogError when a partition's read makes no progress for :data:`STUCK_S`."""
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    if not tps:
        return {}
    consumer = AIOKafkaConsumer(
        **kafka,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=16 << 20,
        fetch_max_bytes=64 << 20,
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        waiting = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
        loop = asyncio.get_running_loop()
        moved_at = loop.time()
        while waiting:
            fetched = await consumer.getmany(*waiting, timeout_ms=500, max_records=50_000)
            for records in fetched.values():
                apply_records(into, ((record.key, record.value) for record in records))
            done = {tp for tp in waiting if await consumer.position(tp) >= ends[tp]}
            if fetched or done:
                moved_at = loop.time()
            elif loop.time() - moved_at > STUCK_S:
                raise ChangelogError(
                    f"reading {topic} back made no progress for {STUCK_S:.0f}s on partitions"
                    f" {sorted(tp.partition for tp in waiting)}"
                )
            waiting -= done
        return {tp.partition: ends[tp] for tp in tps}
    finally:
        await consumer.stop()


class ReadAheadStore(Store[bytes, bytes]):
    """Faust's in-memory table store, filled by the worker's own read of the changelog
    (:meth:`refill`). Its persisted offsets are where that read ended, so Faust's recovery
    of those partitions starts there; a partition not read here (None) Faust recovers from
    the beginning as before."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.read_to: dict[TP, int] = {}

    def persisted_offset(self, tp: TP) -> int | None:
        # Faust counts in last offsets seen: the record before the end.
        return self.read_to.get(tp)

    async def refill(
        self, kafka: Mapping[str, Any], topic: str, partitions: Collection[int]
    ) -> None:
        """Empty the local copy and read ``partitions`` of the changelog ``topic`` into it:
        the copy is then the changelog's committed records of exactly those partitions.
        Nothing may read the copy meanwhile (it is partly filled): the claim that calls
        this holds the committer's turn (:meth:`streams.live.fencing.PartitionCommitter.
        exclusive`)."""
        self.data.clear()
        self._key_partition.clear()
        self.read_to = {}
        ends = await read_changelog(kafka, topic, partitions, self.data)
        self.read_to = {TP(topic, p): end - 1 for p, end in ends.items()}


# Faust makes a table's store from its URL's scheme, looked up in this registry (where
# "memory" and "rocksdb" are): a table given STORE_URL gets a ReadAheadStore. (A bare
# scheme is an empty URL to yarl, which Faust takes for none: the app's memory store.)
STORE_URL = "tierflow-readahead://local"
stores.STORES.aliases["tierflow-readahead"] = f"{__name__}:ReadAheadStore"
