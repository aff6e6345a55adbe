-- Wirepost 0005: time columns of append-mostly tables get BRIN indexes instead of B-trees.
-- They serve retention pruning and date-range filters; a B-tree on them cost an index insert per
-- row on the hot path (every event of every delivery), a BRIN index costs almost nothing.

DROP INDEX events_at_idx;
CREATE INDEX events_at_brin ON events USING brin (at);

DROP INDEX messages_created_at_idx;
CREATE INDEX messages_created_at_brin ON messages USING brin (created_at);
