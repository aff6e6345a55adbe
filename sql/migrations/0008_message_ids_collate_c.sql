-- Wirepost 0008: message ids (and deduplication keys) compare byte by byte, whatever the
-- database's locale.
--
-- Ids are opaque ASCII strings, made to sort by creation time in byte order (see new_id), and
-- every index on them is only ever searched for equality or walked in that order. Under the
-- database's default collation each comparison went through the locale's rules instead: on an
-- en_US.UTF-8 database (the official postgres image's default) a claim and its completion cost
-- Postgres about 1.5 times the CPU they cost with "C" (81.6 against 55.4 us a delivery, claims
-- of 400), and new ids did not even sort last, so inserts landed on random index pages. On a
-- C.UTF-8 database the difference is 3 to 5 %. Equality is the same under both collations, so
-- no row changes; the indexes on these columns are rebuilt (the tables are locked meanwhile).
-- A comparison of one of these columns with a text value of the default collation uses "C".

ALTER TABLE messages
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN source_message_id TYPE text COLLATE "C";
ALTER TABLE deliveries ALTER COLUMN message_id TYPE text COLLATE "C";
ALTER TABLE events ALTER COLUMN message_id TYPE text COLLATE "C";
ALTER TABLE dead_letters ALTER COLUMN message_id TYPE text COLLATE "C";
ALTER TABLE deduplication_keys
    ALTER COLUMN key TYPE text COLLATE "C",
    ALTER COLUMN message_id TYPE text COLLATE "C";
