-- Wirepost 0003: cron schedules. Each row holds the message template a tick produces (the
-- columns mirror `messages`), the cron as given, and the bookkeeping the scheduler advances.
CREATE TABLE schedules (
    id                       text PRIMARY KEY
                             CONSTRAINT schedules_id_check CHECK (id ~ '^[A-Za-z0-9._-]+$'),
    destination              text NOT NULL,           -- a URL or a URL-group name
    cron                     text NOT NULL,           -- as given, incl. a CRON_TZ= prefix
    method                   text NOT NULL,
    headers                  jsonb NOT NULL,          -- {"Canonical-Name": ["v", ...]} sent on
    body                     bytea NOT NULL,
    max_retries              integer NOT NULL,
    retry_delay              text,                    -- Upstash-Retry-Delay expression
    timeout_ms               integer,                 -- Upstash-Timeout; NULL = server default
    delay_ms                 bigint NOT NULL DEFAULT 0, -- Upstash-Delay, applied per message
    caller_ip                text,                    -- of the creator
    labels                   text[] NOT NULL DEFAULT '{}',
    queue_name               text,                    -- Upstash-Queue-Name
    callback                 text,
    callback_headers         jsonb,
    failure_callback         text,
    failure_callback_headers jsonb,
    callback_options         jsonb,
    flow_control_key         text,
    flow_control             jsonb,
    redact                   text[],
    paused                   boolean NOT NULL DEFAULT false,
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    next_fire_at             timestamptz NOT NULL,    -- the next tick (paused rows advance too)
    last_fire_at             timestamptz,
    last_states              jsonb NOT NULL DEFAULT '{}', -- ids of the last tick's messages
    error                    text                     -- why the last tick produced nothing/less
);
CREATE INDEX schedules_next_fire_at_idx ON schedules (next_fire_at);
