-- name: upsert
-- Create schedule $1, or overwrite its definition (keeping created_at, paused and the last
-- tick's bookkeeping). A new schedule is only inserted while fewer than $24 exist.
-- $2 destination, $3 cron, $4 method, $5 headers, $6 body, $7 max_retries, $8 retry_delay,
-- $9 timeout_ms, $10 delay_ms, $11 caller_ip, $12 labels, $13 queue_name, $14 callback,
-- $15 callback_headers, $16 failure_callback, $17 failure_callback_headers,
-- $18 callback_options, $19 flow_control_key, $20 flow_control, $21 redact, $22 now,
-- $23 next_fire_at. Returns the id, or no row when the limit stopped a new schedule.
INSERT INTO schedules (
    id, destination, cron, method, headers, body, max_retries, retry_delay, timeout_ms,
    delay_ms, caller_ip, labels, queue_name, callback, callback_headers, failure_callback,
    failure_callback_headers, callback_options, flow_control_key, flow_control, redact,
    created_at, updated_at, next_fire_at)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
       $20, $21, $22, $22, $23
WHERE EXISTS (SELECT 1 FROM schedules WHERE id = $1)
   OR (SELECT count(*) FROM schedules) < $24
ON CONFLICT (id) DO UPDATE SET
    destination = EXCLUDED.destination,
    cron = EXCLUDED.cron,
    method = EXCLUDED.method,
    headers = EXCLUDED.headers,
    body = EXCLUDED.body,
    max_retries = EXCLUDED.max_retries,
    retry_delay = EXCLUDED.retry_delay,
    timeout_ms = EXCLUDED.timeout_ms,
    delay_ms = EXCLUDED.delay_ms,
    caller_ip = EXCLUDED.caller_ip,
    labels = EXCLUDED.labels,
    queue_name = EXCLUDED.queue_name,
    callback = EXCLUDED.callback,
    callback_headers = EXCLUDED.callback_headers,
    failure_callback = EXCLUDED.failure_callback,
    failure_callback_headers = EXCLUDED.failure_callback_headers,
    callback_options = EXCLUDED.callback_options,
    flow_control_key = EXCLUDED.flow_control_key,
    flow_control = EXCLUDED.flow_control,
    redact = EXCLUDED.redact,
    updated_at = EXCLUDED.updated_at,
    next_fire_at = EXCLUDED.next_fire_at,
    error = NULL
RETURNING id;

-- name: list_all
-- Every schedule ($1 NULL) or only schedule $1, oldest first. current_states maps each message
-- of the last tick to SUCCESS / FAIL / IN_PROGRESS from its latest log entry (DELIVERED →
-- SUCCESS, FAILED or CANCELED → FAIL, anything else → IN_PROGRESS); once retention pruned its
-- log, a pending delivery means IN_PROGRESS, a DLQ entry FAIL, and neither SUCCESS.
SELECT s.*, (
    SELECT coalesce(jsonb_object_agg(k.message_id, CASE
               WHEN e.state = 'DELIVERED' THEN 'SUCCESS'
               WHEN e.state IN ('FAILED', 'CANCELED') THEN 'FAIL'
               WHEN e.state IS NOT NULL THEN 'IN_PROGRESS'
               WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = k.message_id)
                   THEN 'IN_PROGRESS'
               WHEN EXISTS (SELECT 1 FROM dead_letters l WHERE l.message_id = k.message_id)
                   THEN 'FAIL'
               ELSE 'SUCCESS' END), '{}'::jsonb)
    FROM jsonb_object_keys(s.last_states) AS k(message_id)
    LEFT JOIN LATERAL (
        SELECT state FROM events WHERE message_id = k.message_id ORDER BY id DESC LIMIT 1
    ) e ON true
) AS current_states
FROM schedules s
WHERE $1::text IS NULL OR s.id = $1
ORDER BY s.created_at, s.id;

-- name: delete
-- Remove schedule $1; returns its id if it existed. Messages already produced stay.
DELETE FROM schedules WHERE id = $1 RETURNING id;

-- name: set_paused
-- Pause ($2 = true) or resume ($2 = false) schedule $1; returns its id if it exists.
UPDATE schedules SET paused = $2 WHERE id = $1 RETURNING id;

-- name: claim_due
-- Lock up to $2 schedules due at $1 (paused ones too: they advance without firing) until the
-- caller's transaction ends; rows another replica holds are skipped.
SELECT * FROM schedules
WHERE next_fire_at <= $1
ORDER BY next_fire_at
LIMIT $2
FOR UPDATE SKIP LOCKED;

-- name: record_fire
-- After a tick of schedule $1: next tick $2, fired at $3, last tick's messages $4 (jsonb map
-- id → state at fire time), $5 error (NULL when every message was produced).
UPDATE schedules
SET next_fire_at = $2, last_fire_at = $3, last_states = $4, error = $5
WHERE id = $1;

-- name: advance
-- Move schedule $1 to its next tick $2 without firing (paused schedules skip ticks).
UPDATE schedules SET next_fire_at = $2 WHERE id = $1;

-- name: next_due_at
-- When the earliest schedule is due (NULL when there is none).
SELECT min(next_fire_at) FROM schedules;
