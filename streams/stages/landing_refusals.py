"""Landing writes through sinks so that a row the store refuses never stops the rest:
shared by the live landing stage (which dead-letters each refused record) and the replay
shell (which lands it in the review's ``rejected_events``).

A row ClickHouse refuses for what it holds (:class:`~sinks.errors.SinkRejected`: a value
out of its column's range or type, a constraint, personal data, columns that do not match
the table) is a poison row: its write is halved until the refused rows are alone (each
part under a token derived from the write's), every other row lands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sinks.errors import SinkRejected
from sinks.namespaces import Namespace
from sinks.writer import Sink
from streams.stages.landing_plan import Origin, Write
from topics.codec import b64
from topics.outputs import Rejection
from topics.privacy import redact_raw


@dataclass(frozen=True)
class Refused:
    """A record whose row the store refused for what it holds, and why."""

    origin: Origin
    table: str
    reason: str

    def rejection(self, pseudonym_key: bytes, at: datetime) -> Rejection:
        """Its DLQ record (``stage = landing``, the reason; the bytes redacted)."""
        origin = self.origin
        raw = origin.value if isinstance(origin.value, bytes) else b""
        return Rejection(
            reason=f"ClickHouse refused its row in table {self.table}: {self.reason}",
            topic=origin.topic,
            partition=origin.partition,
            offset=origin.offset,
            key_b64=None if origin.key is None else b64(origin.key),
            # The bytes stay repairable, but never carry a raw national id or name.
            value_b64=b64(redact_raw(raw, pseudonym_key)),
            rejected_at=at,
            stage="landing",
        )


def land_isolating(sinks: Mapping[Namespace, Sink], writes: Sequence[Write]) -> list[Refused]:
    """Write and flush each write (blocking; durable on return) and return the records
    whose rows the store refused for what they hold: a refused write is halved until
    those rows are alone, every other row lands. A write without origins is not split
    (its SinkRejected propagates). A write whose token is still buffered from a failed
    attempt is ignored by the sink, so retrying is safe."""
    refused: list[Refused] = []
    for write in writes:
        refused.extend(_land_write(sinks, write))
    return refused


def _land_write(sinks: Mapping[Namespace, Sink], write: Write) -> list[Refused]:
    sink = sinks[write.namespace]
    try:
        sink.write(write.table, write.rows, write.token)
        sink.flush()
    except SinkRejected as exc:
        sink.discard(write.table, write.token)
        if write.origins is None:
            raise
        if len(write.rows) == 1:
            return [Refused(write.origins[0], write.table, str(exc))]
        first, second = write.halves()
        return [*_land_write(sinks, first), *_land_write(sinks, second)]
    return []
