"""Peer (b) of bench/peers.py: a Quix Streams application doing the same decode + core
with its state store. Runs in bench/.venv-quix (bench/make_quix_venv.sh: quixstreams pins
pydantic < 2.14), importing the project's ``topics`` and ``streams.core`` from the tree.

    PYTHONPATH=. bench/.venv-quix/bin/python -m bench.peer_quix --properties FILE
        --inputs T [T ...] --outputs TOPIC --group NAME --records N --result FILE

The four input topics are concatenated into one dataframe (Quix aligns them by timestamp)
and one stateful ``apply`` handles each record: decode it (pydantic), call the core's
``step`` with the state of the record's key (the jurisdiction: the state store is keyed by
message key), store the new state, and send every output. Quix's store holds bytes (RocksDB,
changelog topic, flushed at each checkpoint, every 5 s by default), so each update is
stored as ``encode_state``; the decoded states are also kept in memory, so nothing is
decoded per record (reading the store back would decode the whole state every record).
After the ``N``-th record (or ``--max-s``) it stops (Quix commits its checkpoint), then
writes one JSON line ``{"records", "seconds", "rejected", "encode_seconds"}`` (seconds from
the first record to the last) to ``--result``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)
from quixstreams import Application, State

from streams.config.kafka_security import parse_properties
from streams.core import CoreState, default_rulebook, encode_state, initial_state, step
from streams.ops.runtime import tune_gc_for_core_state
from topics.codec import decode, encode
from topics.registry import jurisdiction_of

STATE_KEY = "core"
MAX_STATE_BYTES = 32 << 20  # a changelog record is a whole state: as the worker allows


def allow_whole_states(props: dict[str, str], group: str) -> list[str]:
    """Raise ``max.message.bytes`` of the group's changelog topics (Quix creates them with
    the broker's 1 MB default, which a whole state passes at a few thousand cases)."""
    admin = AdminClient(props)
    names = [
        t
        for t in admin.list_topics(timeout=10).topics
        if t.startswith("changelog__") and group in t
    ]
    entry = ConfigEntry(
        "max.message.bytes", str(MAX_STATE_BYTES), incremental_operation=AlterConfigOpType.SET
    )
    resources = [ConfigResource(ResourceType.TOPIC, t, incremental_configs=[entry]) for t in names]
    for done in admin.incremental_alter_configs(resources).values() if resources else ():
        done.result()
    return names


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
    props = parse_properties(args.properties.read_text())
    login = {k: v for k, v in props.items() if k != "bootstrap.servers"}
    app = Application(
        broker_address=props["bootstrap.servers"],
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=tempfile.mkdtemp(prefix="bench-quix-"),
        loglevel="WARNING",
        consumer_extra_config=login,
        producer_extra_config={**login, "message.max.bytes": MAX_STATE_BYTES},
    )
    topics = [
        app.topic(t, key_deserializer="bytes", value_deserializer="bytes") for t in args.inputs
    ]
    outputs = app.topic(args.outputs, key_serializer="bytes", value_serializer="bytes")
    rulebook = default_rulebook()
    decoded: dict[str, CoreState] = {}
    seen = {"records": 0, "rejected": 0}
    began: list[float] = []
    ended: list[float] = []
    encoded_in = [0.0]  # seconds spent in encode_state, reported beside the rate

    def decide(value: bytes, state: State) -> list[bytes]:
        if not began:
            began.append(time.perf_counter())
        seen["records"] += 1
        event: Any = decode(value)
        encoded: list[bytes] = []
        if getattr(event, "region", None) is None:
            seen["rejected"] += 1
        else:
            juris = jurisdiction_of(event.region)
            new, out = step(decoded.get(juris) or initial_state(juris), event, rulebook)
            decoded[juris] = new
            encoding = time.perf_counter()
            state.set_bytes(STATE_KEY, encode_state(new))
            encoded_in[0] += time.perf_counter() - encoding
            encoded = [encode(output) for output in out]
        if seen["records"] == args.records or time.perf_counter() - began[0] > args.max_s:
            ended.append(time.perf_counter())
            app.stop()
        return encoded

    sdf = app.dataframe(topics[0])
    for topic in topics[1:]:
        sdf = sdf.concat(app.dataframe(topic))
    sdf = sdf.apply(decide, stateful=True, expand=True)
    sdf.to_topic(outputs)
    if not allow_whole_states(props, args.group):
        raise SystemExit("no changelog topic to configure: did Quix rename them?")
    app.run()
    seconds = ended[0] - began[0] if ended else -1.0
    result = {**seen, "seconds": seconds, "encode_seconds": encoded_in[0]}
    args.result.write_bytes(orjson.dumps(result))


if __name__ == "__main__":
    main()
