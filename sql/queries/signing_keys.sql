-- name: find
SELECT current_key, next_key FROM signing_keys WHERE id = 1;

-- name: insert_if_missing
-- Keep the first pair any replica generated. $1 = current, $2 = next.
INSERT INTO signing_keys (id, current_key, next_key) VALUES (1, $1, $2)
ON CONFLICT (id) DO NOTHING;

-- name: rotate
-- New current = old next; $1 = the new next key. Returns the new pair.
UPDATE signing_keys SET current_key = next_key, next_key = $1, updated_at = now()
WHERE id = 1
RETURNING current_key, next_key;

-- name: replace
-- Store a pair given by configuration. $1 = current, $2 = next.
INSERT INTO signing_keys (id, current_key, next_key) VALUES (1, $1, $2)
ON CONFLICT (id) DO UPDATE SET current_key = $1, next_key = $2, updated_at = now()
WHERE signing_keys.current_key <> $1 OR signing_keys.next_key <> $2;
