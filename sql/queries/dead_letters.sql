-- name: list_page
-- DLQ entries after cursor $1 (an entry id) in order $3 ('asc' oldest first, else newest
-- first), at most $2. Filters (NULL = any): $4 dlq ids, $5 message ids, $6 response statuses,
-- then the message filters (store/filters.py): $7 urls, $8 topic names, $9 queue names,
-- $10 schedule ids, $11 labels (any of), $12 from, $13 to, $14 caller IPs, $15 flow-control
-- keys, $16 hosts, $17 paths.
SELECT d.id AS dlq_id, d.created_at AS dlq_created_at, d.response_status,
       d.response_headers, d.response_body, d.error AS dlq_error, m.*
FROM dead_letters d JOIN messages m ON m.id = d.message_id
WHERE ($1::bigint IS NULL OR (CASE WHEN $3 = 'asc' THEN d.id > $1 ELSE d.id < $1 END))
  AND ($4::bigint[] IS NULL OR d.id = ANY($4))
  AND ($5::text[] IS NULL OR d.message_id = ANY($5))
  AND ($6::int[] IS NULL OR d.response_status = ANY($6))
  AND ($7::text[] IS NULL OR m.url = ANY($7))
  AND ($8::text[] IS NULL OR m.topic_name = ANY($8))
  AND ($9::text[] IS NULL OR m.queue_name = ANY($9))
  AND ($10::text[] IS NULL OR m.schedule_id = ANY($10))
  AND ($11::text[] IS NULL OR m.labels && $11)
  AND ($12::timestamptz IS NULL OR d.created_at >= $12)
  AND ($13::timestamptz IS NULL OR d.created_at <= $13)
  AND ($14::text[] IS NULL OR m.caller_ip = ANY($14))
  AND ($15::text[] IS NULL OR m.flow_control_key = ANY($15))
  AND ($16::text[] IS NULL OR lower(substring(m.url from '^[A-Za-z]+://([^/?#:]+)')) = ANY($16))
  AND ($17::text[] IS NULL OR coalesce(nullif(substring(m.url from '^[A-Za-z]+://[^/?#]+([^?#]*)'), ''), '/') = ANY($17))
ORDER BY CASE WHEN $3 = 'asc' THEN d.id END ASC, CASE WHEN $3 <> 'asc' THEN d.id END DESC
LIMIT $2;

-- name: find
-- $1 = DLQ entry id.
SELECT d.id AS dlq_id, d.created_at AS dlq_created_at, d.response_status,
       d.response_headers, d.response_body, d.error AS dlq_error, m.*
FROM dead_letters d JOIN messages m ON m.id = d.message_id
WHERE d.id = $1;

-- name: delete_many
-- $1 = DLQ entry ids. Returns the deleted ids.
DELETE FROM dead_letters WHERE id = ANY($1::bigint[]) RETURNING id;

-- name: take_many
-- Remove entries $1 (for a retry) and return them with their messages.
WITH taken AS (
    DELETE FROM dead_letters WHERE id = ANY($1::bigint[])
    RETURNING id, created_at, message_id, response_status, response_headers, response_body, error
)
SELECT t.id AS dlq_id, t.created_at AS dlq_created_at, t.response_status,
       t.response_headers, t.response_body, t.error AS dlq_error, m.*
FROM taken t JOIN messages m ON m.id = t.message_id
ORDER BY t.id;

-- name: prune
-- Delete up to $2 entries created before $1.
DELETE FROM dead_letters WHERE id IN (
    SELECT id FROM dead_letters WHERE created_at < $1 ORDER BY id LIMIT $2
);
