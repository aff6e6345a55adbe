-- Wirepost 0001: the outbox (messages + deliveries), history (events, dead_letters),
-- deduplication keys and the signing-key pair.

CREATE TABLE signing_keys (
    id          smallint PRIMARY KEY DEFAULT 1 CONSTRAINT signing_keys_single_row CHECK (id = 1),
    current_key text NOT NULL,
    next_key    text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per message ever accepted; kept after it finishes for WIREPOST_RETENTION.
CREATE TABLE messages (
    id                       text PRIMARY KEY,
    url                      text NOT NULL,
    method                   text NOT NULL,
    headers                  jsonb NOT NULL,          -- {"Canonical-Name": ["v", ...]} sent on
    body                     bytea NOT NULL,
    max_retries              integer NOT NULL,
    retry_delay              text,                    -- Upstash-Retry-Delay expression
    timeout_ms               integer,                 -- Upstash-Timeout; NULL = server default
    not_before               timestamptz NOT NULL,
    created_at               timestamptz NOT NULL,
    caller_ip                text,
    labels                   text[] NOT NULL DEFAULT '{}',
    topic_name               text,
    endpoint_name            text,
    queue_name               text,
    schedule_id              text,
    callback                 text,
    callback_headers         jsonb,
    failure_callback         text,
    failure_callback_headers jsonb,
    callback_options         jsonb,                   -- method/timeout/retries/... of callbacks
    flow_control_key         text,
    flow_control             jsonb,                   -- {"parallelism", "rate", "period"}
    redact                   text[],
    dedup_id                 text
);
CREATE INDEX messages_created_at_idx ON messages (created_at);

-- The hot table: one row per message still to be delivered. Finished work leaves at once.
-- A claim sets leased = true and pushes available_at to the end of the lease, so a crashed
-- worker's rows come due again by themselves; `claims` fences off a stale worker's outcome.
CREATE TABLE deliveries (
    message_id       text PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    seq              bigint GENERATED ALWAYS AS IDENTITY,
    available_at     timestamptz NOT NULL,
    leased           boolean NOT NULL DEFAULT false,
    claims           integer NOT NULL DEFAULT 0,
    retried          integer NOT NULL DEFAULT 0,
    queue_name       text,
    flow_control_key text
);
CREATE INDEX deliveries_available_at_idx ON deliveries (available_at);

-- One row per state transition of a message: the logs (`GET /v2/events`, `GET /v2/logs`).
CREATE TABLE events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at               timestamptz NOT NULL,
    message_id       text NOT NULL,
    state            text NOT NULL CONSTRAINT events_state_check CHECK (state IN (
                         'CREATED', 'ACTIVE', 'DELIVERED', 'ERROR', 'RETRY', 'FAILED',
                         'CANCEL_REQUESTED', 'CANCELED')),
    error            text,
    next_delivery_at timestamptz,
    response_status  integer,
    response_headers jsonb,
    response_body    bytea
);
CREATE INDEX events_message_id_idx ON events (message_id);
CREATE INDEX events_at_idx ON events (at);

-- Messages whose retries are exhausted (or that failed for good).
CREATE TABLE dead_letters (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id       text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    created_at       timestamptz NOT NULL,
    response_status  integer NOT NULL,               -- 0 when there was no HTTP response
    response_headers jsonb,
    response_body    bytea,
    error            text
);
CREATE INDEX dead_letters_message_id_idx ON dead_letters (message_id);
CREATE INDEX dead_letters_created_at_idx ON dead_letters (created_at);

-- Upstash-Deduplication-Id / content-based keys, remembered for WIREPOST_DEDUP_WINDOW.
CREATE TABLE deduplication_keys (
    key        text PRIMARY KEY,
    message_id text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX deduplication_keys_expires_at_idx ON deduplication_keys (expires_at);
