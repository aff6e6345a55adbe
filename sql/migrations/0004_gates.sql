-- Wirepost 0004: gates (queues and flow-control keys) that admit parked deliveries.
--
-- A delivery behind a gate is inserted parked (available_at = 'infinity') and becomes claimable
-- when the gate admits it: in order, while the gate's parallelism and rate allow. A queue keeps
-- its slot through retries (FIFO); a flow-control key re-parks a message between attempts.

CREATE TABLE gates (
    kind               text NOT NULL CONSTRAINT gates_kind_check CHECK (kind IN ('queue', 'flow')),
    name               text NOT NULL,
    parallelism        integer,            -- NULL = unlimited
    rate               integer,            -- admissions per period; NULL = unlimited
    period_seconds     integer NOT NULL DEFAULT 1,
    paused             boolean NOT NULL DEFAULT false,
    pinned_parallelism boolean NOT NULL DEFAULT false,
    pinned_rate        boolean NOT NULL DEFAULT false,
    rate_count         integer NOT NULL DEFAULT 0,
    rate_period_start  timestamptz,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    PRIMARY KEY (kind, name)
);

ALTER TABLE deliveries DROP COLUMN queue_name;
ALTER TABLE deliveries DROP COLUMN flow_control_key;
ALTER TABLE deliveries ADD COLUMN gate_kind text;
ALTER TABLE deliveries ADD COLUMN gate_name text;
-- When a parked delivery may start once admitted (not-before, or the next retry).
ALTER TABLE deliveries ADD COLUMN due_at timestamptz;

CREATE INDEX deliveries_parked_idx ON deliveries (gate_kind, gate_name, seq)
    WHERE available_at = 'infinity';
CREATE INDEX deliveries_admitted_idx ON deliveries (gate_kind, gate_name)
    WHERE gate_kind IS NOT NULL AND available_at <> 'infinity';
CREATE INDEX deliveries_parked_due_at_idx ON deliveries (due_at)
    WHERE available_at = 'infinity';

-- A callback message remembers the message whose attempt produced it.
ALTER TABLE messages ADD COLUMN source_message_id text;
