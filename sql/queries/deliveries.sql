-- name: claim_due
-- Lease up to $2 due deliveries until $3, their attempts starting at $1 = now (`active_at`: the
-- ACTIVE event is logged with the outcome, see migration 0010; an attempt whose lease ran out
-- before it was recorded is logged here, at its own start). $4 = byte budget:
-- a delivery is taken while the bodies taken before it (oldest first) total less than $4, so
-- the first always is, and the claim holds at most $4 plus one body. A body_size of -1 (a row
-- inserted by a replica from before migration 0006, see 0007) is read from the message.
-- Expired leases are due again by construction (the lease end is their available_at).
-- The locked rows are updated by their ctid, `= ANY (ARRAY(...))`: a TID scan in any plan, so a
-- plan Postgres cached while the outbox was empty still reads only the claimed rows from a large
-- backlog (a join can become a scan filtered by the join), and no index is searched a second
-- time. A locked row cannot move before the UPDATE. A row that another transaction changed just
-- before it was locked (and that is still due) may be missed by the UPDATE: it is then left
-- unclaimed, and due, for the next claim.
WITH due AS (
    SELECT ctid, message_id, available_at, body_size,
           CASE WHEN leased THEN active_at END AS abandoned_at
    FROM deliveries
    WHERE available_at <= $1
    ORDER BY available_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), sized AS (
    SELECT ctid, message_id, available_at,
           CASE WHEN body_size >= 0 THEN body_size
                ELSE (SELECT octet_length(m.body) FROM messages m WHERE m.id = due.message_id)
           END AS body_size
    FROM due
), fits AS (
    SELECT ctid FROM (
        SELECT ctid,
               sum(body_size) OVER (ORDER BY available_at ROWS UNBOUNDED PRECEDING)
                   - body_size AS taken_before
        FROM sized
    ) t
    WHERE taken_before < $4::bigint
), claimed AS (
    UPDATE deliveries d SET available_at = $3, leased = true, claims = d.claims + 1,
                            active_at = $1
    WHERE d.ctid = ANY (ARRAY(SELECT ctid FROM fits))
    RETURNING d.message_id, d.claims, d.retried
), abandoned AS (
    INSERT INTO events (at, message_id, state)
    SELECT due.abandoned_at, due.message_id, 'ACTIVE'
    FROM due JOIN claimed USING (message_id)
    WHERE due.abandoned_at IS NOT NULL
)
-- The columns are Message's fields in their order, then the fence and the retry count: the claim
-- reads them by position (wirepost.store.messages.from_columns), a third cheaper than by name.
SELECT m.id, m.url, m.method, m.headers, m.body, m.max_retries, m.not_before, m.created_at,
       m.retry_delay, m.timeout_ms, m.caller_ip, m.labels, m.topic_name, m.endpoint_name,
       m.queue_name, m.schedule_id, m.callback, m.callback_headers, m.failure_callback,
       m.failure_callback_headers, m.callback_options, m.flow_control_key, m.flow_control,
       m.redact, m.dedup_id, m.source_message_id,
       c.claims, c.retried
FROM messages m JOIN claimed c ON c.message_id = m.id
WHERE m.id = ANY (ARRAY(SELECT message_id FROM claimed));

-- name: extend_leases
-- Renew the leases this worker still holds. $1 = ids, $2 = claims (fence), $3 = new lease end.
UPDATE deliveries d SET available_at = $3
FROM unnest($1::text[], $2::int[]) AS x(message_id, claims)
WHERE d.message_id = ANY ($1::text[])  -- an index condition in any plan (see claim_due)
  AND d.message_id = x.message_id AND d.claims = x.claims AND d.leased;

-- name: log_active
-- Log ACTIVE now for attempts this worker still runs, so a slow attempt shows in the logs before
-- it ends; the outcome then carries no started_at (see migration 0010). $1 = ids, $2 = claims
-- (fence). Attempts whose ACTIVE is logged already (active_at cleared) are skipped.
WITH running AS (
    SELECT d.ctid, d.message_id, d.active_at
    FROM deliveries d JOIN unnest($1::text[], $2::int[]) AS x(message_id, claims) USING (message_id)
    WHERE d.message_id = ANY ($1::text[])  -- an index condition in any plan (see claim_due)
      AND d.claims = x.claims AND d.leased AND d.active_at IS NOT NULL
    FOR UPDATE OF d
), cleared AS (
    UPDATE deliveries d SET active_at = NULL
    WHERE d.ctid = ANY (ARRAY(SELECT ctid FROM running))
)
INSERT INTO events (at, message_id, state)
SELECT active_at, message_id, 'ACTIVE' FROM running ORDER BY active_at, message_id;

-- name: complete_many
-- Record attempt outcomes in one statement. Rows whose lease was lost (claims changed or the
-- delivery was cancelled) are skipped. outcome: delivered | retry | failed.
-- $1 = now; $2 ids; $3 one JSON array per id: [claims, outcome, next attempt at, status, error,
-- response headers]; $4 response bodies; $5 = whether to return the applied message ids (and DLQ
-- ids): the delivery loop needs them only for callbacks, and 400 rows back cost the server more
-- than the statement's own decoding of its arguments.
-- (One JSON document instead of six arrays: asyncpg type-checks every array element in Python,
-- which cost twice as much client CPU per outcome. ROWS FROM reads the three side by side, 2-6 %
-- less Postgres CPU than joining them on their ordinality, for 20 rows as for 400.)
WITH o AS (
    SELECT x.message_id, (r->>0)::int AS claims, r->>1 AS outcome,
           (r->>2)::timestamptz AS next_at, (r->>3)::int AS status, r->>4 AS error,
           nullif(r->5, 'null'::jsonb) AS headers, x.body
    FROM ROWS FROM (unnest($2::text[]), unnest($4::bytea[]), jsonb_array_elements($3::jsonb))
         AS x(message_id, body, r)
), finished AS (
    DELETE FROM deliveries d USING o
    WHERE d.message_id = ANY ($2::text[])  -- an index condition in any plan (see claim_due)
      AND d.message_id = o.message_id AND d.claims = o.claims AND o.outcome <> 'retry'
    RETURNING d.message_id, d.active_at
), retrying AS (
    -- Behind a flow-control key the message waits parked between attempts (it is not in
    -- flight); a queue keeps its slot until the message is finished.
    UPDATE deliveries d
    SET available_at = CASE WHEN d.gate_kind = 'flow' THEN 'infinity'::timestamptz
                            ELSE o.next_at END,
        due_at = o.next_at, leased = false, retried = d.retried + 1
    FROM o
    WHERE d.message_id = ANY ($2::text[])
      AND d.message_id = o.message_id AND d.claims = o.claims AND o.outcome = 'retry'
    RETURNING d.message_id, d.active_at
), applied AS (
    -- active_at: when the attempt began, if its ACTIVE is not logged yet (see migration 0010);
    -- the attempt's first event (ERROR, or DELIVERED) carries it as started_at.
    SELECT o.*, a.active_at FROM o
    JOIN (SELECT message_id, active_at FROM finished
          UNION ALL SELECT message_id, active_at FROM retrying) a
      USING (message_id)
), dead AS (
    -- Messages that fail in one batch enter the DLQ in the order they were published (attempts
    -- finish in any order), so DLQ ids and "earliest first" follow publish order.
    INSERT INTO dead_letters (message_id, created_at, response_status, response_headers,
                              response_body, error)
    SELECT a.message_id, $1, a.status, a.headers, a.body, a.error
    FROM applied a JOIN messages m ON m.id = a.message_id
    WHERE m.id = ANY ($2::text[]) AND a.outcome = 'failed'
    ORDER BY m.created_at, m.id
    RETURNING id, message_id
), logged AS (
    INSERT INTO events (at, message_id, state, error, next_delivery_at, response_status,
                        response_headers, response_body, started_at)
    SELECT $1, a.message_id, s.state,
           CASE WHEN s.state IN ('ERROR', 'FAILED') THEN a.error END,
           CASE WHEN s.state = 'RETRY' THEN a.next_at END,
           CASE WHEN s.n = 1 THEN a.status END,
           CASE WHEN s.n = 1 THEN a.headers END,
           CASE WHEN s.n = 1 THEN a.body END,
           CASE WHEN s.n = 1 THEN a.active_at END
    FROM applied a
    CROSS JOIN LATERAL unnest(CASE a.outcome
        WHEN 'delivered' THEN ARRAY['DELIVERED']
        WHEN 'retry' THEN ARRAY['ERROR', 'RETRY']
        ELSE ARRAY['ERROR', 'FAILED'] END) WITH ORDINALITY AS s(state, n)
    ORDER BY a.message_id, s.n
)
SELECT a.message_id, dead.id AS dlq_id FROM applied a LEFT JOIN dead USING (message_id)
WHERE $5::boolean;

-- name: complete_delivered
-- complete_many for a batch whose every outcome is "delivered", the usual case: the same
-- arguments and result, without the retry, dead-letter and multi-event steps (about a fifth less
-- Postgres time a row: 14.3 -> 11.3 us, claims of 400 on Postgres 18). Its `o` and `finished`
-- are complete_many's, narrowed to deliveries: change the two together
-- (test_a_delivery_is_recorded_alike_alone_and_beside_other_outcomes compares what they write).
WITH o AS (
    SELECT x.message_id, (r->>0)::int AS claims, (r->>3)::int AS status,
           nullif(r->5, 'null'::jsonb) AS headers, x.body
    FROM ROWS FROM (unnest($2::text[]), unnest($4::bytea[]), jsonb_array_elements($3::jsonb))
         AS x(message_id, body, r)
), finished AS (
    DELETE FROM deliveries d USING o
    WHERE d.message_id = ANY ($2::text[])  -- an index condition in any plan (see claim_due)
      AND d.message_id = o.message_id AND d.claims = o.claims
    RETURNING d.message_id, d.active_at
), logged AS (
    INSERT INTO events (at, message_id, state, response_status, response_headers, response_body,
                        started_at)
    SELECT $1, o.message_id, 'DELIVERED', o.status, o.headers, o.body, finished.active_at
    FROM o JOIN finished USING (message_id)
    ORDER BY o.message_id
)
SELECT message_id, NULL::bigint AS dlq_id FROM finished WHERE $5::boolean;

-- name: next_due_at
-- When the earliest claimable delivery (or lease end) comes due, or a parked one's wait ends
-- ($1 = now; parked deliveries already due wait for their gate, not for time).
SELECT least(
    (SELECT min(available_at) FROM deliveries WHERE available_at <> 'infinity'),
    (SELECT min(due_at) FROM deliveries WHERE available_at = 'infinity' AND due_at > $1));

-- name: count_pending
SELECT count(*) FROM deliveries;

-- name: notify
-- Wake the delivery loops of every replica (sent after a commit that made work due). The payload
-- $1 names the sending process, whose own loop was woken in-process and skips it.
SELECT pg_notify('wirepost_deliveries', $1);
