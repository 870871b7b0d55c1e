-- The core's contract is "the last copy per id wins": it numbers the copies it emits of
-- one decision, task or alert (`revision`, 0 for the first). The row version puts the
-- revision first, so a retraction, a reinstatement after it, or a task's new state
-- replaces the row whenever it lands; a copy re-emitted after a crash repeats its revision
-- and the first decision is kept. Rows landed before this migration read revision 0.

ALTER TABLE tier_timeline ADD COLUMN IF NOT EXISTS revision UInt32 DEFAULT 0 AFTER retracted;

ALTER TABLE tasks ADD COLUMN IF NOT EXISTS revision UInt32 DEFAULT 0 AFTER decided_at;

ALTER TABLE alerts ADD COLUMN IF NOT EXISTS revision UInt32 DEFAULT 0 AFTER retracted;

-- An incident taken over by another id (a warning absorbed by an agency's incident) gets a
-- last, closed copy naming the incident it became.

ALTER TABLE incidents ADD COLUMN IF NOT EXISTS merged_into Nullable(String) AFTER rulebook_version;
