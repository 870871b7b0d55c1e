"""The live shell: a Faust worker around the pure core (``tierflow worker``).

Data path (``<p>`` is ``settings.topic_prefix``; every topic has the registry's 6
partitions unless noted, and partition ``i`` of every topic goes to the same worker —
Faust's assignor co-partitions topics of equal partition count)::

  <p>.{incidents,cases,transfers,stock}.v1 ─┐
  <p>.ticks.v1 (timer) ─────────────────────┼─► intake (aiokafka getmany, group
  <p>.rekeyed.v1 (internal) ────────────────┘   <p>.decide-intake) ─► in-memory channel
                                                  ─► decide agent (Faust)
                                                  │  state: Faust table "state"
                                                  │  (changelog <p>.decide-state-changelog)
      ┌───────────────────────────────────────────┘
      ├─► <p>.{escalations,tasks,alerts}.v1, <p>.dlq.v1 (1 partition)
      ├─► <p>.{incident-states,stock-levels}.v1 (internal)
      │       + <p>.{cases,transfers}.v1 ─► landing (aiokafka group <p>.landing)
      │                                       └─► ClickHouse <db> / <db>_exercise
      └─► <p>.rollup-feed.v1 (internal, 1 partition) ─► roll-up agent (Faust take)
              state: Faust table "rollup" ─► <p>.{escalations,tasks,alerts,incident-states}.v1

Decisions:

- **Read in batches, outside Faust's per-record path** (:mod:`streams.live.intake`).
  Faust's stream machinery costs ~100 µs of CPU per record here (8–15k records/s for a
  no-op agent against 250–500k/s for aiokafka ``getmany``), so the intake reads up to
  ``worker_batch_max`` records (or what came within ``worker_batch_wait_s``) with its own
  consumer and puts the whole batch on an in-memory Faust channel; the decide agent on
  that channel decodes each record with ``topics.codec.decode``. Faust still owns the
  partitions: its group (``<p>.decide``) holds the ticks topic, co-partitioned with the
  state table, and the intake reads exactly the partitions Faust assigned, once this
  worker has claimed them (:mod:`streams.live.fencing`) and Faust has recovered the table
  (``on_rebalance_complete``) — in the group generation still current: Faust also signals
  the end of an older generation's recovery, when the consumer's assignment is already a
  newer one that nobody here has claimed or recovered. A bad record becomes a ``Rejection``
  (original bytes, topic, partition, offset, key, reason) on the DLQ topic; the landing
  stage puts it in ``rejected_events``. Nothing about input can raise out of the agent.
- **Re-keying.** State is per jurisdiction (``region[:jurisdiction_digits]``), and a
  jurisdiction's state lives on partition ``murmur2(jurisdiction) % 6`` — where Kafka's
  default partitioner puts records keyed by jurisdiction, as ``tierflow publish`` does.
  A record found on any other partition (a producer keyed it by something else) is
  forwarded once, pseudonymised and keyed by jurisdiction, to ``<p>.rekeyed.v1``, which
  the same agent reads; correctly keyed records pay no extra hop. The core is order-
  insensitive and idempotent, so the interleaving of direct and forwarded records does
  not change any decision.
- **State.** One Faust table of per-key state records (``streams.core.changelog``: a
  record per case, track, stock series, transfer and ledger entry, keyed
  ``<jurisdiction>|…``), each sent to its jurisdiction's changelog partition, the one the
  worker owns. Decoded states are cached between batches (the cache is dropped on every
  rebalance). The records a batch touched are written once per *commit*, not per batch,
  and only those: a commit costs what changed. After the agent has decided a batch and
  its output sends are durable, the intake puts the changed records in the table, sends
  them to the changelog and only then commits the batch's offsets. Every committed
  offset is thus covered by changelog records; a restarted worker recovers the table from
  the changelog before
  the intake reads and decides again what was folded but not committed: at-least-once,
  made exactly-once in effect by the core's event-id idempotence and the decide journal
  (:mod:`streams.live.journal`: what was decided again is decided in the same batches,
  so it emits the same outputs). A rebalance during a batch commits nothing of it.
- **Fail-stop.** Input never raises (see above); anything else that raises in the decide
  or landing stage is a bug: the worker logs it and exits 70 at once, before the batch is
  committed (a crashed Faust agent would otherwise sit dead without a word).
- **Ticks.** A timer writes one ``Tick`` per owned partition of ``<p>.ticks.v1``
  (jurisdiction None: every jurisdiction of that partition) every ``tick_interval_s``;
  the decide agent reads them back like events, so a replay sees the same time.
  ``tick_clock``: ``wall`` (production) or ``event`` (the highest Actual ``occurred_at``
  decided, capped at the wall clock; for scenarios dated in the past). A partition with
  records still to read (``Intake.waiting``) gets no tick past its own progress — see
  :mod:`streams.stages.ticks`.
- **Outputs.** Escalations, tasks and alerts go to their topics with ``decided_at`` (the
  only wall-clock time in a decision); incident states and stock levels to internal
  topics for landing. Keys are the jurisdiction.
- **Roll-up stages** (:mod:`streams.stages.rollup_stage`, DESIGN.md section 3): every city
  snapshot of a disease some roll-up rule names also goes to ``<p>.rollup-feed.v1``, keyed
  by incident, and so do acks of roll-up tasks (an Ack naming a roll-up incident) and the
  newest tick of each decided batch (key ``tick``: the roll-up stages' time), and, with a
  facility registry, hospitals' bed levels and the redirects that found no free bed in the
  city (:mod:`streams.core.rollup_beds`: the province crosses into another city). It has one
  partition because the national stage needs every city, and it is small (one snapshot
  per incident touched by a decided batch, one tick per batch, the rare ack, one record
  per registered hospital's bed report). A Faust agent (:mod:`streams.live.rollup`) folds
  it in batches (``take``) into per-area states (a province, ``nation``) in a
  one-partition table, and emits the roll-up incident's escalations, tasks,
  ``task_overdue`` and ``capacity_redirect`` alerts and snapshots, keyed by area, to the
  same output topics as the city stage; a batch's feed offset is committed only in the
  roll-up stage's fenced transaction, after its outputs are durable (the feed is read with
  ``acks=False``: Faust commits none of it). A snapshot carries its incident's
  ``tier_periods``, a task's state is a join of its acks and the newest tick, so an
  area's decisions do not depend on batching, restarts or repeats.
- **Landing** (:mod:`streams.live.landing`): a plain aiokafka consumer group in the
  same process (or alone in a second one: ``worker_stages``), batches of ``getmany``, one
  sink write per table and partition with a dedup token from the offset range, flush,
  then commit. ClickHouse down: partitions
  paused, retries with backoff (at most 5 s apart), memory bounded by one batch, no loss;
  the lag gauges read end offsets from the broker, so the backlog shows while paused.
- **Exercise namespace.** The core keeps ``Exercise``/``Test`` apart inside a state; their
  outputs carry the status, and landing writes every row whose status is not ``Actual``
  to the database ``<clickhouse_database>_exercise`` (same schema, migrated by the worker),
  never to the live one. Cases and transfers are routed the same way.
- **Privacy.** Cases are pseudonymised right after decoding, in both stages, before the
  core, a forward, a table or an output.
- **Metrics** (:mod:`streams.live.metrics`) on ``metrics_host:metrics_port``.
"""
