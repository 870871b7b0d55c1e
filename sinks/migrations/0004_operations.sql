-- What operators need beside the command view: is a worker alive and keeping up, and
-- which event-time range a review covers.
--
-- worker_heartbeats: one row per worker process, replaced at every beat (the newest `at`
-- wins), so the board can say "as of …, worker up/stale, lag N". Old workers' rows expire.

CREATE TABLE IF NOT EXISTS worker_heartbeats
(
    worker_id String,
    host String,
    pid UInt32,
    stages LowCardinality(String),
    topic_prefix String,
    started_at DateTime64(3, 'UTC'),
    at DateTime64(3, 'UTC'),
    interval_s Float32,
    decide_lag Nullable(UInt64),
    waiting_s Nullable(Float32),
    last_decision_at Nullable(DateTime64(3, 'UTC')),
    last_commit_at Nullable(DateTime64(3, 'UTC')),
    land_lag Nullable(UInt64),
    last_landed_at Nullable(DateTime64(3, 'UTC'))
)
ENGINE = ReplacingMergeTree(at)
ORDER BY worker_id
TTL toDateTime(at) + INTERVAL 7 DAY;

-- review_runs: in a review's database, the range it replayed (event time, [from_at,
-- to_at)) and what its plan counted, so `review diff` compares that range only. Empty in
-- the live database.

CREATE TABLE IF NOT EXISTS review_runs
(
    review String,
    source LowCardinality(String),
    from_at DateTime64(3, 'UTC'),
    to_at DateTime64(3, 'UTC'),
    records UInt64,
    outside UInt64,
    restamped UInt64,
    undated UInt64,
    ran_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ran_at)
ORDER BY review;
