-- Wirepost 0006: each delivery row carries its message's body size, so a claim can stop at a
-- byte budget (WIREPOST_DELIVERY_MAX_BYTES) without reading the bodies it leaves behind: a
-- backlog of large messages no longer pulls hundreds of them into one server's memory at once.

ALTER TABLE deliveries ADD COLUMN body_size integer NOT NULL DEFAULT 0;

UPDATE deliveries d SET body_size = octet_length(m.body)
FROM messages m
WHERE m.id = d.message_id AND octet_length(m.body) > 0;
