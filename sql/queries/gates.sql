-- name: ensure_many
-- Create missing gates (queues start with parallelism 1). $1 kinds, $2 names,
-- $3 parallelism, $4 rate, $5 period seconds, $6 now.
INSERT INTO gates (kind, name, parallelism, rate, period_seconds, created_at, updated_at)
SELECT kind, name, parallelism, rate, coalesce(period, 1), $6, $6
FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::int[])
    AS x(kind, name, parallelism, rate, period)
ON CONFLICT (kind, name) DO NOTHING;

-- name: update_flow_configs
-- The latest message's limits become the key's, except pinned ones; rows whose limits are
-- unchanged are not touched (and not locked). $1 keys, $2 parallelism, $3 rate, $4 period, $5 now.
UPDATE gates g
SET parallelism = CASE WHEN g.pinned_parallelism THEN g.parallelism ELSE x.parallelism END,
    rate = CASE WHEN g.pinned_rate THEN g.rate ELSE x.rate END,
    period_seconds = CASE WHEN g.pinned_rate THEN g.period_seconds ELSE x.period END,
    updated_at = $5
FROM unnest($1::text[], $2::int[], $3::int[], $4::int[]) AS x(name, parallelism, rate, period)
WHERE g.kind = 'flow' AND g.name = x.name
  AND ((NOT g.pinned_parallelism AND g.parallelism IS DISTINCT FROM x.parallelism)
       OR (NOT g.pinned_rate AND (g.rate IS DISTINCT FROM x.rate
                                  OR g.period_seconds IS DISTINCT FROM x.period)));

-- name: lock_open
-- Lock up to $2 open gates that have parked deliveries due by $1 (SKIP LOCKED: a gate another
-- replica is admitting through is left to it). First statement of the admit transaction.
SELECT g.kind, g.name
FROM gates g
WHERE NOT g.paused
  AND EXISTS (SELECT 1 FROM deliveries d
              WHERE d.gate_kind = g.kind AND d.gate_name = g.name
                AND d.available_at = 'infinity' AND d.due_at <= $1)
LIMIT $2
FOR UPDATE OF g SKIP LOCKED;

-- name: admit_locked
-- Admit parked deliveries through the gates this transaction locked ($2 kinds, $3 names), oldest
-- first, as far as each gate's parallelism (admitted and not finished) and rate (admissions per
-- period) allow; $1 = now. A statement of its own after lock_open, so under READ COMMITTED it
-- sees every admission committed before the locks were granted. Returns how many were admitted.
WITH open_gates AS (
    SELECT g.kind, g.name, g.parallelism, g.rate, g.period_seconds, g.rate_count,
           (g.rate IS NOT NULL AND (g.rate_period_start IS NULL OR
               g.rate_period_start + make_interval(secs => g.period_seconds) <= $1)) AS new_period
    FROM gates g
    JOIN unnest($2::text[], $3::text[]) AS l(kind, name) ON g.kind = l.kind AND g.name = l.name
), capacity AS (
    SELECT o.kind, o.name, o.rate, o.new_period,
           least(
               CASE WHEN o.parallelism IS NULL THEN 1000000
                    ELSE o.parallelism - (SELECT count(*) FROM deliveries d
                                          WHERE d.gate_kind = o.kind AND d.gate_name = o.name
                                            AND d.available_at <> 'infinity') END,
               CASE WHEN o.rate IS NULL THEN 1000000
                    WHEN o.new_period THEN o.rate
                    ELSE o.rate - o.rate_count END
           ) AS free
    FROM open_gates o
), picked AS (
    SELECT p.message_id, c.kind, c.name
    FROM capacity c
    CROSS JOIN LATERAL (
        SELECT d.message_id FROM deliveries d
        WHERE d.gate_kind = c.kind AND d.gate_name = c.name
          AND d.available_at = 'infinity' AND d.due_at <= $1
        ORDER BY d.seq
        LIMIT greatest(c.free, 0)
    ) p
), released AS (
    UPDATE deliveries d SET available_at = $1
    FROM picked p WHERE d.message_id = p.message_id
    RETURNING d.message_id
), counted AS (
    UPDATE gates g
    SET rate_count = CASE WHEN c.new_period THEN n.admitted ELSE g.rate_count + n.admitted END,
        rate_period_start = CASE WHEN c.new_period THEN $1 ELSE g.rate_period_start END
    FROM capacity c
    CROSS JOIN LATERAL (SELECT count(*)::int AS admitted FROM picked p
                        WHERE p.kind = c.kind AND p.name = c.name) n
    WHERE g.kind = c.kind AND g.name = c.name AND c.rate IS NOT NULL AND n.admitted > 0
)
SELECT count(*) FROM released;

-- name: upsert_queue
-- $1 name, $2 parallelism, $3 paused, $4 now.
INSERT INTO gates (kind, name, parallelism, paused, created_at, updated_at)
VALUES ('queue', $1, $2, $3, $4, $4)
ON CONFLICT (kind, name) DO UPDATE
SET parallelism = EXCLUDED.parallelism, paused = EXCLUDED.paused, updated_at = $4;

-- name: list
-- Gates of kind $1 (one when $2 is a name), with their waiting, admitted and total counts.
SELECT g.*,
       (SELECT count(*) FROM deliveries d WHERE d.gate_kind = g.kind AND d.gate_name = g.name
          AND d.available_at = 'infinity') AS waiting,
       (SELECT count(*) FROM deliveries d WHERE d.gate_kind = g.kind AND d.gate_name = g.name
          AND d.available_at <> 'infinity') AS admitted
FROM gates g
WHERE g.kind = $1 AND ($2::text IS NULL OR g.name = $2)
ORDER BY g.name;

-- name: set_paused
-- $1 kind, $2 name, $3 paused, $4 now. Returns the name when the gate exists.
UPDATE gates SET paused = $3, updated_at = $4 WHERE kind = $1 AND name = $2 RETURNING name;

-- name: delete
-- $1 kind, $2 name. Returns the name when it existed.
DELETE FROM gates WHERE kind = $1 AND name = $2 RETURNING name;

-- name: pending_message_ids
-- Messages still waiting behind gate ($1 kind, $2 name).
SELECT message_id FROM deliveries WHERE gate_kind = $1 AND gate_name = $2;

-- name: pin
-- Pin flow-control limits of key $1: $2 parallelism, $3 rate, $4 period (NULL = leave that
-- limit unpinned); pinning resets the rate window. $5 = now. Returns the key when it exists.
UPDATE gates
SET parallelism = CASE WHEN $2::int IS NULL THEN parallelism ELSE $2 END,
    pinned_parallelism = pinned_parallelism OR $2::int IS NOT NULL,
    rate = CASE WHEN $3::int IS NULL THEN rate ELSE $3 END,
    period_seconds = CASE WHEN $3::int IS NULL OR $4::int IS NULL THEN period_seconds ELSE $4 END,
    pinned_rate = pinned_rate OR $3::int IS NOT NULL,
    rate_count = 0, rate_period_start = NULL, updated_at = $5
WHERE kind = 'flow' AND name = $1
RETURNING name;

-- name: unpin
-- $1 key, $2 unpin parallelism, $3 unpin rate, $4 now. Returns the key when it exists.
UPDATE gates
SET pinned_parallelism = pinned_parallelism AND NOT $2,
    pinned_rate = pinned_rate AND NOT $3, updated_at = $4
WHERE kind = 'flow' AND name = $1
RETURNING name;

-- name: reset_rate
-- Start a new rate window for key $1 now ($2). Returns the key when it exists.
UPDATE gates SET rate_count = 0, rate_period_start = $2, updated_at = $2
WHERE kind = 'flow' AND name = $1
RETURNING name;

-- name: in_flight
-- Deliveries being attempted right now (leased), across every replica.
SELECT count(*) FROM deliveries WHERE leased AND available_at > $1;

-- name: any_open
-- Whether any queue or flow-control key could admit something (lets idle loops skip admit).
SELECT EXISTS (SELECT 1 FROM gates WHERE NOT paused);
