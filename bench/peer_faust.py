"""Peer (a) of bench/peers.py: what a team would write from Faust's documentation — one
agent over the four input topics, one record at a time: decode it (pydantic), call the
core's ``step`` with the jurisdiction's state from a Faust table keyed by jurisdiction,
put the new state back in the table and send every output.

    .venv/bin/python -m bench.peer_faust --properties FILE --inputs T [T ...]
        --outputs TOPIC --group NAME --records N --result FILE

Faust's defaults otherwise (producer linger 0: every table update is its own changelog
request), an in-memory table store (the values are the decoded states; the changelog
holds ``encode_state`` of each update: the whole state of the jurisdiction, as a table
value is one value), no web server. After the ``N``-th record (or ``--max-s``) it flushes
the producer, writes one JSON line ``{"records", "seconds", "rejected", "encode_seconds"}``
(seconds from the first record to the last) to ``--result`` and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import faust
import orjson
from faust.serializers import codecs

from streams.config.kafka_security import parse_properties
from streams.core import decode_state, default_rulebook, encode_state, initial_state, step
from streams.ops.runtime import tune_gc_for_core_state
from topics.codec import decode, encode
from topics.registry import jurisdiction_of

PARTITIONS = 6  # the input topics' (topics/registry.py): the table is co-partitioned
MAX_STATE_BYTES = 32 << 20  # a changelog record is a whole state: as the worker allows


class CoreStateCodec(codecs.Codec):
    """A table value is a decoded ``CoreState``; its changelog record is ``encode_state``
    (``seconds``: the time spent encoding, reported beside the rate)."""

    seconds = 0.0

    def _dumps(self, obj: Any) -> bytes:
        began = time.perf_counter()
        blob = encode_state(obj)
        CoreStateCodec.seconds += time.perf_counter() - began
        return blob

    def _loads(self, s: bytes) -> Any:
        return decode_state(s)


def build(args: argparse.Namespace) -> faust.App:
    codecs.register("corestate", CoreStateCodec())
    props = parse_properties(args.properties.read_text())
    app = faust.App(
        args.group,
        broker=f"kafka://{props['bootstrap.servers']}",
        broker_credentials=faust.SASLCredentials(
            username=props["sasl.username"],
            password=props["sasl.password"],
            mechanism=props["sasl.mechanisms"],
        ),
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        datadir=tempfile.mkdtemp(prefix="bench-faust-"),
        topic_partitions=PARTITIONS,
        consumer_auto_offset_reset="earliest",
        producer_max_request_size=MAX_STATE_BYTES,
    )
    source = app.topic(*args.inputs, key_serializer="raw", value_serializer="raw")
    outputs = app.topic(args.outputs, key_serializer="raw", value_serializer="raw")
    states: Any = app.Table(
        "states",
        partitions=PARTITIONS,
        extra_topic_configs={"max.message.bytes": str(MAX_STATE_BYTES)},
    )
    # A Table takes its value codec from ``value_type``'s model options only (json
    # otherwise); a state is no Faust model, so its codec is named here, before the worker
    # starts (the changelog topic and every changelog send read this attribute).
    states.value_serializer = "corestate"
    rulebook = default_rulebook()
    seen = {"records": 0, "rejected": 0}
    began: list[float] = []

    @app.agent(source)
    async def decide(stream: Any) -> None:
        async for value in stream:
            if not began:
                began.append(time.perf_counter())
            event: Any = decode(value)
            seen["records"] += 1
            if getattr(event, "region", None) is None:
                seen["rejected"] += 1
            else:
                juris = jurisdiction_of(event.region)
                state = states.get(juris) or initial_state(juris)
                states[juris], out = step(state, event, rulebook)
                for output in out:
                    await outputs.send(key=juris.encode(), value=encode(output))
            if seen["records"] == args.records or time.perf_counter() - began[0] > args.max_s:
                await app.producer.flush()
                seconds = time.perf_counter() - began[0]
                result = {**seen, "seconds": seconds, "encode_seconds": CoreStateCodec.seconds}
                args.result.write_bytes(orjson.dumps(result))
                os._exit(0)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--properties", type=Path, required=True, help="librdkafka config")
    parser.add_argument("--inputs", nargs="+", required=True)
    parser.add_argument("--outputs", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--records", type=int, required=True)
    parser.add_argument("--result", type=Path, required=True, help="where the JSON line goes")
    parser.add_argument("--max-s", type=float, default=float("inf"), help="stop after this long")
    args = parser.parse_args()
    tune_gc_for_core_state()  # as the worker does: same core, same collector settings
    asyncio.set_event_loop(asyncio.new_event_loop())
    app = build(args)
    worker = faust.Worker(app, quiet=True, loglevel="warning")
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
