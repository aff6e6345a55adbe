-- Wirepost 0007: a delivery row inserted without its body size gets -1 ("unknown") instead of 0.
-- Only a replica still running code from before 0006 inserts such rows, during a rolling upgrade;
-- with the default 0 a claim counted their bodies as empty, so a backlog of large messages
-- published through old replicas could be claimed 400 at a time past WIREPOST_DELIVERY_MAX_BYTES.
-- A claim now reads the size of a -1 row from its message. Rows such a replica inserted since
-- 0006 are filled in here, as 0006 did for the rows waiting then.

ALTER TABLE deliveries ALTER COLUMN body_size SET DEFAULT -1;

UPDATE deliveries d SET body_size = octet_length(m.body)
FROM messages m
WHERE m.id = d.message_id AND d.body_size = 0 AND octet_length(m.body) > 0;
