"""The decide stage's states in a Faust table whose changelog writes are awaited."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from topics.errors import TierflowError


class ChangelogError(TierflowError):
    """A state was not written to the changelog: no offset may be committed past it."""


class TableStore:
    """:class:`streams.live.decide.StateStore` over a Faust table of bytes keyed by the
    jurisdiction's bytes. ``put`` sets the table's local copy; :meth:`persist` sends the
    changelog records and waits for every acknowledgement (Faust's own table write only
    queues the record, ``send_soon``, and a failed send surfaces in a callback alone, so
    offsets could be committed past a state the changelog never got). Each record goes to
    murmur2(key), as ``use_partitioner`` would — the partition the decide stage reads that
    jurisdiction from, which is what lets the table be written outside a stream event
    (DESIGN.md section 7)."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self._unsent: dict[bytes, bytes] = {}

    def get(self, jurisdiction: str) -> bytes | None:
        blob = self.table.get(jurisdiction.encode())
        return blob if isinstance(blob, bytes) else None

    def put(self, jurisdiction: str, blob: bytes) -> None:
        key = jurisdiction.encode()
        self.table.data[key] = blob  # the local copy only: persist() sends the changelog
        self._unsent[key] = blob

    async def persist(self) -> None:
        """Send the states put since the last call to the changelog and return when the
        broker has acknowledged every one; ChangelogError naming the jurisdiction, its size
        and the broker's reason when one was not written."""
        producer = self.table.app.producer
        topic = self.table.changelog_topic.get_topic_name()
        unsent, self._unsent = self._unsent, {}
        sending = []
        for key, blob in unsent.items():
            try:
                sending.append((key, blob, await producer.send(topic, key, blob, None, None, None)))
            except Exception as exc:  # faust's ProducerSendError, aiokafka's errors
                raise _not_written(topic, key, blob, exc) from exc
        for key, blob, acknowledged in sending:
            try:
                await acknowledged
            except Exception as exc:
                raise _not_written(topic, key, blob, exc) from exc

    def jurisdictions(self) -> Iterator[str]:
        return (key.decode() for key in self.table)

    async def writable(self) -> None:
        """Wait until the producer knows the changelog topic's partitions. A table write
        picks its changelog partition from the producer's metadata at once (eager
        partitioning) and raises ``TypeError`` when the producer has not seen the topic
        yet — a changelog created moments ago, right after a cold start. Cheap once known."""
        client = self.table.app.producer._ensure_producer().client  # aiokafka's
        await client._wait_on_metadata(self.table.changelog_topic.get_topic_name())


def _not_written(topic: str, key: bytes, blob: bytes, exc: Exception) -> ChangelogError:
    return ChangelogError(
        f"the state of jurisdiction {key.decode()} ({len(blob)} bytes) was not written to "
        f"{topic}: {type(exc).__name__}: {exc}; no offset is committed past it"
    )
