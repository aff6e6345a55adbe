-- name: claim
-- Take key $1 for message $2 until $3 unless a live claim exists ($4 = now).
-- Returns the message id that owns the key afterwards: $2 when we took it.
WITH taken AS (
    INSERT INTO deduplication_keys (key, message_id, expires_at) VALUES ($1, $2, $3)
    ON CONFLICT (key) DO UPDATE SET message_id = EXCLUDED.message_id,
                                    expires_at = EXCLUDED.expires_at
    WHERE deduplication_keys.expires_at <= $4
    RETURNING message_id
)
SELECT message_id FROM taken
UNION ALL
SELECT message_id FROM deduplication_keys WHERE key = $1 AND NOT EXISTS (SELECT 1 FROM taken);

-- name: prune
-- Forget up to $2 keys that expired before $1.
DELETE FROM deduplication_keys WHERE key IN (
    SELECT key FROM deduplication_keys WHERE expires_at < $1 LIMIT $2
);

-- name: owner
-- Who owns key $1 (a fresh snapshot, for when claim raced a concurrent commit).
SELECT message_id FROM deduplication_keys WHERE key = $1;
