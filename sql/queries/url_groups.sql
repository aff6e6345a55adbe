-- name: lock_or_create
-- Create group $1 at $2, or touch it (updated_at = $2); either way its row stays locked until
-- the transaction ends, which serialises concurrent changes to one group.
INSERT INTO url_groups (name, created_at, updated_at) VALUES ($1, $2, $2)
ON CONFLICT (name) DO UPDATE SET updated_at = EXCLUDED.updated_at;

-- name: lock
-- Lock group $1 for a change; returns its name, or no row when it does not exist.
SELECT name FROM url_groups WHERE name = $1 FOR UPDATE;

-- name: upsert_endpoints
-- Add endpoints to group $1: $2 urls, $3 names (aligned; NULL = no name). An endpoint already
-- in the group keeps its place; its name is replaced when a new one is given.
INSERT INTO url_group_endpoints (group_name, url, name)
SELECT $1, x.url, x.name FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS x(url, name, ord)
ORDER BY x.ord
ON CONFLICT (group_name, url) DO UPDATE
SET name = coalesce(EXCLUDED.name, url_group_endpoints.name);

-- name: count_endpoints
-- $1 = group name.
SELECT count(*) FROM url_group_endpoints WHERE group_name = $1;

-- name: remove_endpoints
-- Remove from group $1 the endpoints whose url is in $2 or whose name is in $3.
-- Returns the removed urls.
DELETE FROM url_group_endpoints
WHERE group_name = $1 AND (url = ANY($2::text[]) OR name = ANY($3::text[]))
RETURNING url;

-- name: delete_if_empty
-- Delete group $1 when it has no endpoint left; returns its name when it was deleted.
DELETE FROM url_groups g
WHERE g.name = $1 AND NOT EXISTS (SELECT 1 FROM url_group_endpoints e WHERE e.group_name = $1)
RETURNING g.name;

-- name: touch
-- Set updated_at of group $1 to $2.
UPDATE url_groups SET updated_at = $2 WHERE name = $1;

-- name: find
-- Group $1 with its endpoints in the order they were added (endpoints as a jsonb array).
SELECT g.name, g.created_at, g.updated_at,
       coalesce(jsonb_agg(jsonb_build_object('url', e.url, 'name', e.name) ORDER BY e.id)
                FILTER (WHERE e.url IS NOT NULL), '[]'::jsonb) AS endpoints
FROM url_groups g LEFT JOIN url_group_endpoints e ON e.group_name = g.name
WHERE g.name = $1
GROUP BY g.name;

-- name: list_all
-- Every group with its endpoints, by name.
SELECT g.name, g.created_at, g.updated_at,
       coalesce(jsonb_agg(jsonb_build_object('url', e.url, 'name', e.name) ORDER BY e.id)
                FILTER (WHERE e.url IS NOT NULL), '[]'::jsonb) AS endpoints
FROM url_groups g LEFT JOIN url_group_endpoints e ON e.group_name = g.name
GROUP BY g.name
ORDER BY g.name;

-- name: delete
-- Delete group $1 and its endpoints; returns its name when it existed.
DELETE FROM url_groups WHERE name = $1 RETURNING name;
