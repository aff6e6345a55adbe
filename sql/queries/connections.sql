-- name: bound_lock_waits
-- For the rest of the transaction, a statement that would wait for a lock longer than this
-- fails instead (LockNotAvailable).
SET LOCAL lock_timeout = '200ms';
