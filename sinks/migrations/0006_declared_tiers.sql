-- Recommended and declared tiers (issue 13 item 1). The rules recommend a tier; an
-- authorised agency (the rulebook's authority.declare_by) declares one, and the plan's
-- tasks follow the declared tier. Both timelines land in tier_timeline, told apart by
-- `basis`; rows landed before this migration were recommendations (the rules' decisions).

ALTER TABLE tier_timeline ADD COLUMN IF NOT EXISTS basis LowCardinality(String) DEFAULT 'recommended' AFTER rulebook_version;

ALTER TABLE tier_timeline ADD COLUMN IF NOT EXISTS declared_by Nullable(String) AFTER basis;

ALTER TABLE tier_timeline ADD COLUMN IF NOT EXISTS reason String DEFAULT '' AFTER declared_by;

-- The incident's declared tier beside its recommended one (`tier`), and the decision lag
-- of the latest declaration: declared_at minus the effective time of the recommendation
-- of that tier.

ALTER TABLE incidents ADD COLUMN IF NOT EXISTS declared_tier LowCardinality(Nullable(String)) AFTER tier;

ALTER TABLE incidents ADD COLUMN IF NOT EXISTS declared_at Nullable(DateTime64(3, 'UTC')) AFTER declared_tier;

ALTER TABLE incidents ADD COLUMN IF NOT EXISTS declared_by Nullable(String) AFTER declared_at;

ALTER TABLE incidents ADD COLUMN IF NOT EXISTS decision_lag_s Nullable(Float64) AFTER declared_by;

-- A case's institution (issue 13): "within one institution" warnings count per institution.

ALTER TABLE cases ADD COLUMN IF NOT EXISTS institution_id Nullable(String) AFTER setting;
