-- name: insert_many
-- Store messages with their deliveries and CREATED events, in one statement (atomic).
-- $1 = now; $2.. = one array per column, aligned; labels/redact arrive as JSON text
-- (a text[] of lists would be read as a 2-D array).
WITH x AS (
    SELECT * FROM unnest(
        $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bytea[], $7::int[], $8::text[],
        $9::int[], $10::timestamptz[], $11::text[], $12::text[], $13::text[], $14::text[],
        $15::text[], $16::text[], $17::text[], $18::jsonb[], $19::text[], $20::jsonb[],
        $21::jsonb[], $22::text[], $23::jsonb[], $24::text[], $25::text[]
    ) WITH ORDINALITY AS x(
        id, url, method, headers, body, max_retries, retry_delay,
        timeout_ms, not_before, caller_ip, labels, topic_name, endpoint_name,
        queue_name, schedule_id, callback, callback_headers, failure_callback, failure_callback_headers,
        callback_options, flow_control_key, flow_control, redact, dedup_id, ord
    )
), m AS (
    INSERT INTO messages (
        id, url, method, headers, body, max_retries, retry_delay, timeout_ms, not_before,
        created_at, caller_ip, labels, topic_name, endpoint_name, queue_name, schedule_id,
        callback, callback_headers, failure_callback, failure_callback_headers, callback_options,
        flow_control_key, flow_control, redact, dedup_id)
    SELECT id, url, method, headers, body, max_retries, retry_delay, timeout_ms, not_before,
        $1, caller_ip, ARRAY(SELECT jsonb_array_elements_text(labels::jsonb)), topic_name,
        endpoint_name, queue_name, schedule_id, callback, callback_headers, failure_callback,
        failure_callback_headers, callback_options, flow_control_key, flow_control,
        CASE WHEN redact IS NULL THEN NULL
             ELSE ARRAY(SELECT jsonb_array_elements_text(redact::jsonb)) END,
        dedup_id
    FROM x
), d AS (
    INSERT INTO deliveries (message_id, available_at, queue_name, flow_control_key)
    SELECT id, not_before, queue_name, flow_control_key FROM x ORDER BY ord
)
INSERT INTO events (at, message_id, state, next_delivery_at)
SELECT $1, id, 'CREATED', not_before FROM x ORDER BY ord;

-- name: find
-- $1 = message id.
SELECT * FROM messages WHERE id = $1;

-- name: cancel_many
-- Cancel pending messages: drop their deliveries, log CANCEL_REQUESTED + CANCELED.
-- $1 = message ids, $2 = now. Returns the cancelled ids.
WITH gone AS (
    DELETE FROM deliveries WHERE message_id = ANY($1::text[]) RETURNING message_id
), logged AS (
    INSERT INTO events (at, message_id, state)
    SELECT $2, g.message_id, s.state
    FROM gone g CROSS JOIN unnest(ARRAY['CANCEL_REQUESTED', 'CANCELED']) WITH ORDINALITY AS s(state, n)
    ORDER BY g.message_id, s.n
)
SELECT message_id FROM gone;

-- name: prune
-- Delete up to $2 finished messages created before $1 that nothing refers to any more.
DELETE FROM messages WHERE id IN (
    SELECT m.id FROM messages m
    WHERE m.created_at < $1
      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id)
      AND NOT EXISTS (SELECT 1 FROM dead_letters l WHERE l.message_id = m.id)
    LIMIT $2
);
