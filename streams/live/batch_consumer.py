"""The consumer the decide intake reads its batches with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer


def batch_consumer(kafka: Mapping[str, Any], group: str | None) -> AIOKafkaConsumer:
    """A consumer for whole-batch ``getmany`` reads: large fetches, nothing committed
    by itself, the earliest offset where none is committed, only committed transactions'
    records (the journal's entries are transactional: streams.live.journal_write; every
    other topic it reads is not, and reads the same). (bench/raw_consume.py reads with the
    same consumer, so the ratio it prints compares like with like.)"""
    return AIOKafkaConsumer(
        **kafka,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 << 20,
        fetch_max_bytes=64 << 20,
        isolation_level="read_committed",
    )
