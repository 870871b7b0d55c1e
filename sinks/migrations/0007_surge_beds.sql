-- Surge capacity (issue 15 item 2): a bed snapshot may say how many beds of the item the
-- site can open within the rulebook's surge lead time (平战转换), beside its baseline.

ALTER TABLE stock_levels ADD COLUMN IF NOT EXISTS convertible Nullable(Float64) AFTER baseline;
