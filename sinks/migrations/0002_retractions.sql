-- A late event can make an earlier decision wrong: the core then re-emits the old tier
-- change or alert with retracted = true (and tasks with state 'retracted'), beside the
-- recomputed one. The retracted copy carries a higher version, so FINAL keeps it and the
-- command view filters it out.

ALTER TABLE tier_timeline ADD COLUMN IF NOT EXISTS retracted Bool DEFAULT false AFTER decided_at;

ALTER TABLE alerts ADD COLUMN IF NOT EXISTS retracted Bool DEFAULT false AFTER decided_at;
