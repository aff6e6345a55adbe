-- name: list_latest_first
-- Log entries, newest first, after cursor $1 (an entry's position), at most $2. An events row is
-- one entry at position id * 2 + 1 and, when it carries the start of its attempt (started_at,
-- see migration 0010), an ACTIVE entry just before it at id * 2.
-- Filters (NULL = any): $3 message ids, $4 states, $5 urls, $6 topic names, $7 queue names,
-- $8 schedule ids, $9 labels (any of), $10 from, $11 to (inclusive), $12 caller IPs,
-- $13 flow-control keys, $14 hosts, $15 paths.
SELECT x.position AS event_id, x.at AS event_at, x.state AS event_state,
       CASE WHEN x.own THEN e.error END AS event_error,
       CASE WHEN x.own THEN e.next_delivery_at END AS next_delivery_at,
       CASE WHEN x.own THEN e.response_status END AS response_status,
       CASE WHEN x.own THEN e.response_headers END AS response_headers,
       CASE WHEN x.own THEN e.response_body END AS response_body, m.*
FROM events e
CROSS JOIN LATERAL (VALUES (e.id * 2 + 1, e.at, e.state, true),
                           (e.id * 2, e.started_at, 'ACTIVE', false)) AS x(position, at, state, own)
JOIN messages m ON m.id = e.message_id
WHERE x.at IS NOT NULL
  AND ($1::bigint IS NULL OR (e.id <= $1 / 2 AND x.position < $1))
  AND ($3::text[] IS NULL OR e.message_id = ANY($3))
  AND ($4::text[] IS NULL OR x.state = ANY($4))
  AND ($5::text[] IS NULL OR m.url = ANY($5))
  AND ($6::text[] IS NULL OR m.topic_name = ANY($6))
  AND ($7::text[] IS NULL OR m.queue_name = ANY($7))
  AND ($8::text[] IS NULL OR m.schedule_id = ANY($8))
  AND ($9::text[] IS NULL OR m.labels && $9)
  AND ($10::timestamptz IS NULL OR x.at >= $10)
  AND ($11::timestamptz IS NULL OR x.at <= $11)
  AND ($12::text[] IS NULL OR m.caller_ip = ANY($12))
  AND ($13::text[] IS NULL OR m.flow_control_key = ANY($13))
  AND ($14::text[] IS NULL OR lower(substring(m.url from '^[A-Za-z]+://([^/?#:]+)')) = ANY($14))
  AND ($15::text[] IS NULL OR coalesce(nullif(substring(m.url from '^[A-Za-z]+://[^/?#]+([^?#]*)'), ''), '/') = ANY($15))
ORDER BY e.id DESC, x.position DESC
LIMIT $2;

-- name: list_earliest_first
-- As list_latest_first, oldest first: cursor $1 means "after this position". Kept as a second
-- block on purpose: each walks the primary key in its own direction and stops at the LIMIT,
-- where one block with ORDER BY CASE would sort every matching event first.
SELECT x.position AS event_id, x.at AS event_at, x.state AS event_state,
       CASE WHEN x.own THEN e.error END AS event_error,
       CASE WHEN x.own THEN e.next_delivery_at END AS next_delivery_at,
       CASE WHEN x.own THEN e.response_status END AS response_status,
       CASE WHEN x.own THEN e.response_headers END AS response_headers,
       CASE WHEN x.own THEN e.response_body END AS response_body, m.*
FROM events e
CROSS JOIN LATERAL (VALUES (e.id * 2 + 1, e.at, e.state, true),
                           (e.id * 2, e.started_at, 'ACTIVE', false)) AS x(position, at, state, own)
JOIN messages m ON m.id = e.message_id
WHERE x.at IS NOT NULL
  AND ($1::bigint IS NULL OR (e.id >= $1 / 2 AND x.position > $1))
  AND ($3::text[] IS NULL OR e.message_id = ANY($3))
  AND ($4::text[] IS NULL OR x.state = ANY($4))
  AND ($5::text[] IS NULL OR m.url = ANY($5))
  AND ($6::text[] IS NULL OR m.topic_name = ANY($6))
  AND ($7::text[] IS NULL OR m.queue_name = ANY($7))
  AND ($8::text[] IS NULL OR m.schedule_id = ANY($8))
  AND ($9::text[] IS NULL OR m.labels && $9)
  AND ($10::timestamptz IS NULL OR x.at >= $10)
  AND ($11::timestamptz IS NULL OR x.at <= $11)
  AND ($12::text[] IS NULL OR m.caller_ip = ANY($12))
  AND ($13::text[] IS NULL OR m.flow_control_key = ANY($13))
  AND ($14::text[] IS NULL OR lower(substring(m.url from '^[A-Za-z]+://([^/?#:]+)')) = ANY($14))
  AND ($15::text[] IS NULL OR coalesce(nullif(substring(m.url from '^[A-Za-z]+://[^/?#]+([^?#]*)'), ''), '/') = ANY($15))
ORDER BY e.id ASC, x.position ASC
LIMIT $2;

-- name: prune
-- Delete up to $2 events older than $1.
DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < $1 ORDER BY id LIMIT $2);
