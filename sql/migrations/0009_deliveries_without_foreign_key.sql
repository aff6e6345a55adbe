-- Wirepost 0009: deliveries no longer carry a foreign key to messages.
--
-- A delivery row is only ever written by messages.insert_many, in the same statement as its
-- message (a new id), and a message is only ever deleted by messages.prune, which skips any
-- message that still has a delivery; so the key never refused a row and its cascade never
-- deleted one. It did cost every publish: Postgres checked each new delivery against its
-- message (an index look-up and a row lock on the message, written to the WAL), which was a fifth
-- of the insert's Postgres CPU: 38.0-41.1 against 30.3-32.7 ms per 1,000 messages in three
-- paired runs, and a /v2/batch ingest is bound by that insert. No row changes.

ALTER TABLE deliveries DROP CONSTRAINT deliveries_message_id_fkey;
