"""The consumer the decide intake reads its batches with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer

# How long the broker holds a fetch of partitions with nothing new (aiokafka's default:
# 500 ms). The consumer has one fetch in flight per broker, so a seek waited that long for
# its first records and an offset lookup behind it: half a second of every takeover's redo.
# At 100 ms the worst decision latency at 5,000/s also fell from up to 0.7 s to 0.3 s
# (BENCHMARKS.md, issue 14, "Fixed waits out of every restart"). Records that arrive end
# the wait either way.
FETCH_WAIT_MS = 100


def batch_consumer(kafka: Mapping[str, Any], group: str | None) -> AIOKafkaConsumer:
    """A consumer for whole-batch ``getmany`` reads: large fetches, nothing committed
    by itself, the earliest offset where none is committed, only committed transactions'
    records (the journal's entries are transactional: streams.live.journal_write; every
    other topic it reads is not, and reads the same). (bench/raw_consume.py reads with the
    same consumer, so the ratio it prints compares like with like.) A fetch waits at most
    :data:`FETCH_WAIT_MS` for records."""
    return AIOKafkaConsumer(
        **kafka,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 << 20,
        fetch_max_bytes=64 << 20,
        fetch_max_wait_ms=FETCH_WAIT_MS,
        isolation_level="read_committed",
    )
