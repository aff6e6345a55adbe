-- name: insert_many
-- Store messages with their deliveries and CREATED events, in one statement (atomic).
-- $1 = now (the CREATED events' time); $2 = one JSON array per message, its fields in the order
-- below (labels and redact as JSON arrays, times as RFC 3339 text; created_at is each message's
-- own); $3 = the bodies, aligned with $2. One JSON document rather than one array per column:
-- asyncpg checks every array element in Python, which made the 26 arrays cost 10 µs of client
-- CPU per message in a batch of 1,000 and 170 µs for a single publish; the document costs 3 µs
-- and 140 µs, and Postgres takes no longer to read it. Bodies stay binary: in base64 inside the
-- document a 10 MiB body took twice as long to insert. ROWS FROM reads the two arrays side by
-- side; joining them on their ordinality planned a merge join over two sorts, which cost
-- Postgres 3-15 % more CPU for a single publish and 4-7 % for a batch of 1,000.
-- $4 = ids handed to this process's delivery loop, $5 = the end of their lease: those rows are
-- stored already claimed (leased, claims 1, their attempt starting at $1), as claim_due would
-- leave them, so the loop delivers them without a claim; if this process dies they come due
-- again when the lease ends.
WITH x AS (
    SELECT r->>0 AS id, r->>1 AS url, r->>2 AS method, r->3 AS headers, body,
           (r->>4)::int AS max_retries, r->>5 AS retry_delay, (r->>6)::int AS timeout_ms,
           (r->>7)::timestamptz AS not_before, r->>8 AS caller_ip, r->9 AS labels,
           r->>10 AS topic_name, r->>11 AS endpoint_name, r->>12 AS queue_name,
           r->>13 AS schedule_id, r->>14 AS callback, nullif(r->15, 'null') AS callback_headers,
           r->>16 AS failure_callback, nullif(r->17, 'null') AS failure_callback_headers,
           nullif(r->18, 'null') AS callback_options, r->>19 AS flow_control_key,
           nullif(r->20, 'null') AS flow_control, nullif(r->21, 'null') AS redact,
           r->>22 AS dedup_id, r->>23 AS source_message_id,
           (r->>24)::timestamptz AS created_at, r->>0 = ANY ($4::text[]) AS leased, ord
    FROM ROWS FROM (jsonb_array_elements($2::jsonb), unnest($3::bytea[]))
         WITH ORDINALITY AS j(r, body, ord)
), m AS (
    INSERT INTO messages (
        id, url, method, headers, body, max_retries, retry_delay, timeout_ms, not_before,
        created_at, caller_ip, labels, topic_name, endpoint_name, queue_name, schedule_id,
        callback, callback_headers, failure_callback, failure_callback_headers, callback_options,
        flow_control_key, flow_control, redact, dedup_id, source_message_id)
    SELECT id, url, method, headers, body, max_retries, retry_delay, timeout_ms, not_before,
        created_at, caller_ip, ARRAY(SELECT jsonb_array_elements_text(labels)), topic_name,
        endpoint_name, queue_name, schedule_id, callback, callback_headers, failure_callback,
        failure_callback_headers, callback_options, flow_control_key, flow_control,
        CASE WHEN redact IS NULL THEN NULL
             ELSE ARRAY(SELECT jsonb_array_elements_text(redact)) END,
        dedup_id, source_message_id
    FROM x
), d AS (
    -- Behind a queue or flow-control key a message waits parked until its gate admits it; a
    -- callback of a queued message holds its queue's slot without waiting.
    INSERT INTO deliveries (message_id, available_at, due_at, gate_kind, gate_name, body_size,
                            leased, claims, active_at)
    SELECT id,
           CASE WHEN leased THEN $5::timestamptz
                WHEN coalesce(queue_name, flow_control_key) IS NOT NULL
                     AND source_message_id IS NULL
                THEN 'infinity'::timestamptz ELSE not_before END,
           not_before,
           CASE WHEN queue_name IS NOT NULL THEN 'queue'
                WHEN flow_control_key IS NOT NULL THEN 'flow' END,
           coalesce(queue_name, flow_control_key),
           octet_length(body),
           leased,
           CASE WHEN leased THEN 1 ELSE 0 END,
           CASE WHEN leased THEN $1::timestamptz END
    FROM x ORDER BY ord
)
INSERT INTO events (at, message_id, state, next_delivery_at)
SELECT $1, id, 'CREATED', not_before FROM x ORDER BY ord;

-- name: find
-- $1 = message id.
SELECT * FROM messages WHERE id = $1;

-- name: cancel_many
-- Cancel pending messages: drop their deliveries, log CANCEL_REQUESTED + CANCELED.
-- $1 = message ids, $2 = now. Returns the cancelled ids.
-- An attempt running meanwhile (its outcome will not be recorded) gets its ACTIVE logged first,
-- at its start (see migration 0010).
WITH gone AS (
    DELETE FROM deliveries WHERE message_id = ANY($1::text[])
    RETURNING message_id, CASE WHEN leased THEN active_at END AS running_since
), logged AS (
    INSERT INTO events (at, message_id, state)
    SELECT coalesce(s.at, $2), g.message_id, s.state
    FROM gone g CROSS JOIN LATERAL (VALUES (1, g.running_since, 'ACTIVE'),
                                           (2, NULL, 'CANCEL_REQUESTED'),
                                           (3, NULL, 'CANCELED')) AS s(n, at, state)
    WHERE s.state <> 'ACTIVE' OR g.running_since IS NOT NULL
    ORDER BY g.message_id, s.n
)
SELECT message_id FROM gone;

-- name: prune
-- Delete up to $2 finished messages created before $1 that nothing refers to any more.
-- Deliveries have no foreign key to their message (migration 0009): this NOT EXISTS is what
-- keeps a message with a delivery waiting.
DELETE FROM messages WHERE id IN (
    SELECT m.id FROM messages m
    WHERE m.created_at < $1
      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id)
      AND NOT EXISTS (SELECT 1 FROM dead_letters l WHERE l.message_id = m.id)
    LIMIT $2
);

-- name: cancel_matching
-- Cancel up to $2 (NULL = no limit) pending messages created at or before $1 that match every
-- given filter, oldest first: drop their deliveries, log CANCEL_REQUESTED + CANCELED. Rows
-- another transaction is changing right now (an attempt being recorded) are skipped.
-- Filters (NULL = any): $3 urls, $4 topic names, $5 queue names, $6 schedule ids,
-- $7 labels (any of), $8 created from, $9 created to (inclusive), $10 caller IPs,
-- $11 flow-control keys, $12 hosts (lower case), $13 paths. Returns the cancelled ids.
WITH picked AS (
    SELECT d.message_id FROM deliveries d JOIN messages m ON m.id = d.message_id
    WHERE m.created_at <= $1
      AND ($3::text[] IS NULL OR m.url = ANY($3))
      AND ($4::text[] IS NULL OR m.topic_name = ANY($4))
      AND ($5::text[] IS NULL OR m.queue_name = ANY($5))
      AND ($6::text[] IS NULL OR m.schedule_id = ANY($6))
      AND ($7::text[] IS NULL OR m.labels && $7)
      AND ($8::timestamptz IS NULL OR m.created_at >= $8)
      AND ($9::timestamptz IS NULL OR m.created_at <= $9)
      AND ($10::text[] IS NULL OR m.caller_ip = ANY($10))
      AND ($11::text[] IS NULL OR m.flow_control_key = ANY($11))
      AND ($12::text[] IS NULL OR lower(substring(m.url from '^[A-Za-z]+://([^/?#:]+)')) = ANY($12))
      AND ($13::text[] IS NULL OR coalesce(nullif(substring(m.url from '^[A-Za-z]+://[^/?#]+([^?#]*)'), ''), '/') = ANY($13))
    ORDER BY d.seq
    LIMIT $2::bigint
    FOR UPDATE OF d SKIP LOCKED
), gone AS (
    DELETE FROM deliveries d USING picked p WHERE d.message_id = p.message_id
    RETURNING d.message_id, CASE WHEN d.leased THEN d.active_at END AS running_since
), logged AS (
    -- as cancel_many: a running attempt's ACTIVE first
    INSERT INTO events (at, message_id, state)
    SELECT coalesce(s.at, $1), g.message_id, s.state
    FROM gone g CROSS JOIN LATERAL (VALUES (1, g.running_since, 'ACTIVE'),
                                           (2, NULL, 'CANCEL_REQUESTED'),
                                           (3, NULL, 'CANCELED')) AS s(n, at, state)
    WHERE s.state <> 'ACTIVE' OR g.running_since IS NOT NULL
    ORDER BY g.message_id, s.n
)
SELECT message_id FROM gone;
