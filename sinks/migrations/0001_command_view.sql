-- The command view's tables (DESIGN.md section 5).
--
-- Every table: ReplacingMergeTree(version) over a deterministic key (sinks/tables.py holds
-- the same keys and the rules that make `version`), and a deduplication window so a batch
-- re-sent with the same insert_deduplication_token lands once on a single node.
-- ORDER BY puts `status` first (the live view reads Actual only), then the time column the
-- board filters on. Monthly partitions are by that time column, which is part of the key:
-- rows of one key must share a partition, or FINAL cannot collapse them. Tables that hold
-- the current state of something whose times move (incidents, transfers) are small (one
-- row per incident / transfer) and are not partitioned for that reason.

CREATE TABLE IF NOT EXISTS incidents
(
    incident_id String,
    jurisdiction LowCardinality(String),
    status LowCardinality(String),
    category LowCardinality(String),
    disease LowCardinality(Nullable(String)),
    headline String,
    phase LowCardinality(String),
    warning Bool,
    tier LowCardinality(Nullable(String)),
    opened_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    metrics Map(String, Float64),
    region LowCardinality(Nullable(String)),
    lat Nullable(Float64),
    lon Nullable(Float64),
    rulebook_version LowCardinality(String),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (status, jurisdiction, incident_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS tier_timeline
(
    decision_id String,
    incident_id String,
    jurisdiction LowCardinality(String),
    status LowCardinality(String),
    tier LowCardinality(Nullable(String)),
    previous_tier LowCardinality(Nullable(String)),
    effective_at DateTime64(3, 'UTC'),
    rule_ids Array(String),
    evidence Map(String, Float64),
    rulebook_version LowCardinality(String),
    decided_at Nullable(DateTime64(3, 'UTC')),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(effective_at)
ORDER BY (status, effective_at, decision_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS tasks
(
    task_id String,
    incident_id String,
    jurisdiction LowCardinality(String),
    status LowCardinality(String),
    tier LowCardinality(String),
    agency_type LowCardinality(String),
    action LowCardinality(String),
    issued_at DateTime64(3, 'UTC'),
    due_at DateTime64(3, 'UTC'),
    state LowCardinality(String),
    acked_at Nullable(DateTime64(3, 'UTC')),
    decided_at Nullable(DateTime64(3, 'UTC')),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(issued_at)
ORDER BY (status, issued_at, task_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS alerts
(
    alert_id String,
    alert_kind LowCardinality(String),
    level LowCardinality(String),
    jurisdiction LowCardinality(String),
    status LowCardinality(String),
    subject_id String,
    incident_id Nullable(String),
    at DateTime64(3, 'UTC'),
    message String,
    details String,  -- JSON object
    decided_at Nullable(DateTime64(3, 'UTC')),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(at)
ORDER BY (status, at, alert_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- Case reports after pseudonymisation: national_id holds a keyed HMAC, there is no name.
CREATE TABLE IF NOT EXISTS cases
(
    event_id String,
    msg_type LowCardinality(String),
    status LowCardinality(String),
    source_agency_id LowCardinality(String),
    source_agency_type LowCardinality(String),
    occurred_at DateTime64(3, 'UTC'),
    reported_at DateTime64(3, 'UTC'),
    region LowCardinality(String),
    location_lat Nullable(Float64),
    location_lon Nullable(Float64),
    incident_id Nullable(String),
    case_id String,
    patient_ref String,
    national_id Nullable(String),
    disease LowCardinality(String),
    classification LowCardinality(String),
    severity LowCardinality(String),
    outcome LowCardinality(String),
    onset_date Nullable(String),
    facility_id LowCardinality(String),
    setting LowCardinality(Nullable(String)),
    triage LowCardinality(Nullable(String)),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (status, occurred_at, event_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- The latest state of each transfer: version = state rank, then event time.
CREATE TABLE IF NOT EXISTS transfers
(
    event_id String,
    msg_type LowCardinality(String),
    status LowCardinality(String),
    source_agency_id LowCardinality(String),
    source_agency_type LowCardinality(String),
    occurred_at DateTime64(3, 'UTC'),
    reported_at DateTime64(3, 'UTC'),
    region LowCardinality(String),
    location_lat Nullable(Float64),
    location_lon Nullable(Float64),
    incident_id Nullable(String),
    transfer_id String,
    case_id Nullable(String),
    patient_ref String,
    triage LowCardinality(Nullable(String)),
    from_facility LowCardinality(String),
    to_facility LowCardinality(String),
    required_bed LowCardinality(String),
    transport_unit Nullable(String),
    transfer_status LowCardinality(String),
    eta Nullable(DateTime64(3, 'UTC')),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (status, transfer_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS stock_levels
(
    site_id LowCardinality(String),
    site_type LowCardinality(String),
    jurisdiction LowCardinality(String),
    status LowCardinality(String),
    item LowCardinality(String),
    unit LowCardinality(String),
    at DateTime64(3, 'UTC'),
    on_hand Float64,
    baseline Nullable(Float64),
    burn_rate_per_day Nullable(Float64),
    days_of_cover Nullable(Float64),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(at)
ORDER BY (status, at, site_id, item)
SETTINGS non_replicated_deduplication_window = 1000;

-- The DLQ landed: one row per dead-lettered record, keyed by where it came from. The
-- original bytes stay (base64) so a person can repair and re-publish them.
CREATE TABLE IF NOT EXISTS rejected_events
(
    reason String,
    field LowCardinality(Nullable(String)),
    topic LowCardinality(Nullable(String)),
    `partition` Nullable(Int64),
    `offset` Nullable(Int64),
    key_b64 Nullable(String),
    value_b64 String,
    rejected_at Nullable(DateTime64(3, 'UTC')),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (topic, `partition`, `offset`)
SETTINGS non_replicated_deduplication_window = 1000, allow_nullable_key = 1;
