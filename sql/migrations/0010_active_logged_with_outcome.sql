-- Wirepost 0010: an attempt's ACTIVE event is written with its outcome, not by its claim.
--
-- Every claim used to insert one ACTIVE row into events per delivery, and the outcome another
-- row: two heap rows and six index entries a delivery. The ACTIVE row was a quarter of
-- Postgres's CPU in a drain (16-17 against 12-13 us a delivery; about 13 % more deliveries a
-- second, Wirepost alone, 100,000 waiting, three alternating pairs). Now the claim stamps the
-- delivery row it updates anyway with `active_at`, and the outcome row (ERROR, or DELIVERED)
-- carries that time as `started_at`; the logs list such a row as two entries, ACTIVE at
-- `started_at` just before the outcome. An attempt still running after a second or two is
-- logged as its own ACTIVE row (and its `active_at` cleared), so a slow attempt shows in the
-- logs while it runs; so is an attempt whose lease ran out (its process died) when the delivery
-- is claimed again, and one whose message is cancelled. The rule, kept by every statement: the
-- current attempt's ACTIVE is not logged yet exactly when the delivery is leased and its
-- `active_at` is set. Rows written before this migration have neither column: their ACTIVE
-- rows are in events already.

ALTER TABLE deliveries ADD COLUMN active_at timestamptz;
ALTER TABLE events ADD COLUMN started_at timestamptz;
