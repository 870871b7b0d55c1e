-- Days of cover at full load beside the observed rate (issue 15 item 5). For an item of the
-- rulebook's stockpile catalogue, what the jurisdiction uses a day with every bed of the
-- catalogue's bed item occupied, as of the snapshot, and the days the snapshot's on_hand
-- lasts at that rate. Rows landed before this migration, and items outside the catalogue,
-- have neither.

ALTER TABLE stock_levels ADD COLUMN IF NOT EXISTS full_load_per_day Nullable(Float64) AFTER days_of_cover;

ALTER TABLE stock_levels ADD COLUMN IF NOT EXISTS days_at_full_load Nullable(Float64) AFTER full_load_per_day;
