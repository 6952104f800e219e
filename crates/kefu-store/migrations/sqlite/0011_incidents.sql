-- Emergency incidents 紧急事故 (S6): the incident and its history, one notice per
-- affected customer (with or without a usable contact; agents call from it), and
-- the outbox of automatic sends, one row per notice and channel — the unique key
-- is what makes a second send of the same notice on the same channel impossible.

CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT     NOT NULL,
    severity        TEXT     NOT NULL,
    title           TEXT     NOT NULL,
    -- JSON list of service areas.
    areas           TEXT     NOT NULL,
    starts_at       BIGINT   NOT NULL,
    expected_end    BIGINT,
    description     TEXT     NOT NULL,
    instructions    TEXT     NOT NULL,
    call_script     TEXT     NOT NULL,
    sms_template    TEXT     NOT NULL,
    email_subject   TEXT     NOT NULL,
    email_template  TEXT     NOT NULL,
    status          TEXT     NOT NULL,
    paused          SMALLINT NOT NULL DEFAULT 0,
    -- JSON of how the affected customers were chosen.
    selection       TEXT,
    created_by      TEXT     NOT NULL,
    created_at      BIGINT   NOT NULL,
    updated_at      BIGINT   NOT NULL
);

CREATE TABLE incident_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id  BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at_ms        BIGINT NOT NULL,
    actor        TEXT   NOT NULL,
    action       TEXT   NOT NULL,
    detail       TEXT   NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, id);

CREATE TABLE incident_notices (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id     BIGINT   NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    customer_id     BIGINT   REFERENCES customers (id) ON DELETE SET NULL,
    -- As they were when the incident was recorded.
    name            TEXT     NOT NULL,
    address         TEXT,
    phone_key       TEXT,
    mobile_key      TEXT,
    email           TEXT,
    has_contact     SMALLINT NOT NULL,
    -- no_contact, pending, notified or failed (every channel gave up).
    outcome         TEXT     NOT NULL,
    -- Agent calls: pending, done, not_reached, failed; NULL without a phone.
    call_status     TEXT,
    call_attempts   INTEGER  NOT NULL DEFAULT 0,
    call_next_at    BIGINT   NOT NULL DEFAULT 0,
    locked_by       BIGINT,
    locked_until    BIGINT,
    -- The first channel that reached the customer.
    notified_channel TEXT,
    notified_at     BIGINT,
    notified_by     TEXT,
    UNIQUE (incident_id, customer_id)
);
-- The board counts by outcome; the lists walk notices in order, filtering outcome.
CREATE INDEX incident_notices_outcome ON incident_notices (incident_id, outcome);
CREATE INDEX incident_notices_order ON incident_notices (incident_id, id);
CREATE INDEX incident_notices_calls ON incident_notices (incident_id, call_next_at, id)
    WHERE call_status = 'pending';
CREATE INDEX incident_notices_held ON incident_notices (locked_by, incident_id)
    WHERE locked_by IS NOT NULL;

CREATE TABLE incident_sends (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id   BIGINT   NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    notice_id     BIGINT   NOT NULL REFERENCES incident_notices (id) ON DELETE CASCADE,
    -- email or sms.
    channel       TEXT     NOT NULL,
    -- pending, in_flight, unknown, sent, failed.
    state         TEXT     NOT NULL,
    attempts      INTEGER  NOT NULL DEFAULT 0,
    next_at       BIGINT   NOT NULL DEFAULT 0,
    -- The dispatcher holding an in-flight send, and until when.
    claimed_by    TEXT,
    claimed_until BIGINT,
    provider_id   TEXT,
    last_error    TEXT,
    sent_at       BIGINT,
    updated_at    BIGINT   NOT NULL,
    UNIQUE (notice_id, channel)
);
-- The dispatcher's queue: what is due, and what a stopped dispatcher left in flight.
CREATE INDEX incident_sends_due ON incident_sends (state, next_at, id)
    WHERE state IN ('pending', 'in_flight', 'unknown');
CREATE INDEX incident_sends_incident ON incident_sends (incident_id, state);
