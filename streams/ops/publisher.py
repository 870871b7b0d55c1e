"""Getting events in: route JSONL lines to their topics (:mod:`topics.routing`) and
publish them.

Every line is validated with the wire codec before anything is sent; a valid line is sent
byte for byte as it was read (the producer's copy is the agency's copy), keyed by its
jurisdiction. Clock ticks without a jurisdiction are sent to every partition of the ticks
topic, because each partition's state must see the same time.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    TopicAuthorizationFailedError,
)

from streams.config.kafka_security import Principal
from streams.config.settings import Settings
from streams.ops.kafka import idempotent_producer
from streams.ops.record_signer import RecordSigner
from topics.agencies import AgencyError
from topics.codec import all_problems
from topics.errors import TierflowError
from topics.outputs import Rejection
from topics.routing import OutgoingRecord, is_tick, route_line

_SEND_WINDOW = 5_000  # unacknowledged sends in flight before we wait for the oldest

UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class LineError:
    """One problem of a line that is not a valid event: where, which field, why (a line
    with several problems has several)."""

    line: int
    field: str | None  # None: no field to blame (not JSON, not an object)
    reason: str

    def render(self, source: str) -> str:
        field = f"{self.field}: " if self.field else ""
        return f"{source}:{self.line}: {field}{self.reason}"


def plan_lines(lines: Iterable[bytes], digits: int) -> tuple[list[OutgoingRecord], list[LineError]]:
    """Validate every non-blank line (1-based numbering); returns what to send and every
    problem of every invalid line. A UTF-8 byte order mark opening the first line (as
    some Windows editors save) is dropped. Nothing is sent here."""
    records: list[OutgoingRecord] = []
    errors: list[LineError] = []
    for number, line in enumerate(lines, start=1):
        raw = line.rstrip(b"\r\n")
        if number == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM) :]
        if not raw.strip():
            continue
        routed = route_line(raw, digits)
        if isinstance(routed, Rejection):
            found = all_problems(raw, tick=is_tick(raw)) or [(routed.field, routed.reason)]
            errors += [LineError(number, field, reason) for field, reason in found]
        else:
            records.extend(routed)
    return records, errors


def layout_hint(content: bytes) -> str | None:
    """Why a file whose lines are not events may still hold events: a pretty-printed
    JSON array or object (what many tools export) instead of one object per line."""
    try:
        whole = orjson.loads(content.removeprefix(UTF8_BOM))
    except orjson.JSONDecodeError:
        return None
    if isinstance(whole, list):
        return (
            f"the file is one JSON array of {len(whole)} items: tierflow reads one JSON "
            "object per line (JSONL); write each event on a line of its own"
        )
    if isinstance(whole, dict) and len(content.strip().splitlines()) > 1:
        return (
            "the file is one JSON object over several lines: tierflow reads one JSON "
            "object per line (JSONL); write the event on a single line"
        )
    return None


class _Pacer:
    """Holds sends to ``rate`` records/s on average (None: as fast as possible)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.start = time.monotonic()
        self.sent = 0

    async def wait(self) -> None:
        if not self.rate:
            return
        self.sent += 1
        ahead = self.sent / self.rate - (time.monotonic() - self.start)
        if ahead > 0:
            await asyncio.sleep(ahead)


class MissingTopic(TierflowError):
    """A topic to publish to does not exist (the broker does not create topics)."""


class PublishRefused(TierflowError):
    """The broker refused the principal a write (its ACLs)."""


@dataclass
class PublishTally:
    """How many records Kafka has acknowledged so far (kept up to date while publishing,
    so an interrupted publish can say how far it got)."""

    acked: int = 0

    def count(self, future: asyncio.Future[object]) -> None:
        """Done callback of one send."""
        if not future.cancelled() and future.exception() is None:
            self.acked += 1


async def _require_topics(producer: AIOKafkaProducer, topics: set[str]) -> None:
    """MissingTopic (one line, with the remedy) unless ``topics`` all exist and the
    producer's principal may see them (the broker lists only those)."""
    existing = (await producer.client.fetch_all_metadata()).topics()
    missing = sorted(topics - existing)
    if missing:
        names = ", ".join(missing)
        which = f"topics {names} do" if len(missing) > 1 else f"topic {names} does"
        raise MissingTopic(
            f"{which} not exist, or this login may not see it (an agency writes the input "
            "topics only): run `tierflow topics create` first (nothing was published)"
        )


async def publish_records_async(
    records: Iterable[OutgoingRecord],
    settings: Settings,
    *,
    rate: float | None = None,
    on_sent: Callable[[int], None] | None = None,
    tally: PublishTally | None = None,
    signer: RecordSigner | None = None,
    principal: Principal = "admin",
) -> dict[str, int]:
    """Send every record (acks=all, idempotent producer) as ``principal`` (the admin, or an
    agency's own login), each event signed by ``signer`` (default: its own agency's key
    from the registry), and wait until all are acknowledged; ``rate`` paces sends
    (records/s); ``tally`` counts acknowledgements as they come. Returns the count per
    full topic name. Before anything is sent: AgencyError when an agency has no key,
    MissingTopic when a topic to send to does not exist (or the principal may not see
    it). PublishRefused when the broker refuses the principal a write."""
    records = list(records)
    signer = signer or RecordSigner.from_registry(settings)
    unsigned = signer.unsigned(records)
    if unsigned:
        more = " …" if len(unsigned) > 5 else ""
        raise AgencyError(
            f"no signing key for {', '.join(unsigned[:5])}{more}: `tierflow agency add ID"
            " --type TYPE --out DIR` first (nothing was published)"
        )
    counts: Counter[str] = Counter()
    tally = tally or PublishTally()
    async with idempotent_producer(settings, principal) as producer:
        await _require_topics(producer, {_topic(settings, r) for r in records})
        try:
            await _send_all(
                producer,
                records,
                settings=settings,
                signer=signer,
                rate=rate,
                on_sent=on_sent,
                tally=tally,
                counts=counts,
            )
        except (TopicAuthorizationFailedError, ClusterAuthorizationFailedError) as exc:
            who = principal.username if not isinstance(principal, str) else principal
            raise PublishRefused(
                f"Kafka refused {who!r} a write ({type(exc).__name__}): an agency may "
                f"write the four input topics only; {tally.acked} record(s) were published"
            ) from exc
    return dict(counts)


def _topic(settings: Settings, record: OutgoingRecord) -> str:
    return f"{settings.topic_prefix}.{record.topic_stem}.v1"


async def _send_all(
    producer: AIOKafkaProducer,
    records: list[OutgoingRecord],
    *,
    settings: Settings,
    signer: RecordSigner,
    rate: float | None,
    on_sent: Callable[[int], None] | None,
    tally: PublishTally,
    counts: Counter[str],
) -> None:
    pending: list[asyncio.Future[object]] = []
    pacer = _Pacer(rate)
    for record in records:
        await pacer.wait()
        topic = _topic(settings, record)
        future = await producer.send(
            topic,
            record.value,
            key=record.key,
            partition=record.partition,
            timestamp_ms=record.timestamp_ms,
            headers=signer.headers(record),
        )
        future.add_done_callback(tally.count)
        pending.append(future)
        counts[topic] += 1
        if len(pending) >= _SEND_WINDOW:
            await asyncio.gather(*pending)
            if on_sent:
                on_sent(len(pending))
            pending.clear()
    await asyncio.gather(*pending)
    if on_sent:
        on_sent(len(pending))


def publish_records(
    records: Iterable[OutgoingRecord],
    settings: Settings,
    *,
    rate: float | None = None,
    on_sent: Callable[[int], None] | None = None,
    tally: PublishTally | None = None,
    signer: RecordSigner | None = None,
    principal: Principal = "admin",
) -> dict[str, int]:
    """Synchronous :func:`publish_records_async`."""
    return asyncio.run(
        publish_records_async(
            records,
            settings,
            rate=rate,
            on_sent=on_sent,
            tally=tally,
            signer=signer,
            principal=principal,
        )
    )
