-- A record the landing could not land (ClickHouse refused its row: a value out of its
-- column's range, personal data, columns that do not match) is dead-lettered like a record
-- the decide stage rejects; `stage` says which of the two rejected it.
ALTER TABLE rejected_events
    ADD COLUMN IF NOT EXISTS stage LowCardinality(String) DEFAULT 'decide' AFTER rejected_at;
