-- Contacts, telephony events, promised callbacks, work orders with their events,
-- notes and deadlines, routing rules, deadline policies, escalations, webhooks and
-- their outbox, and rate-limit counters shared by server instances.

-- Which agent sits at which telephone extension (签入); telephony events name the
-- extension, this finds the agent.
CREATE TABLE seats (
    extension     TEXT   PRIMARY KEY,
    staff_id      BIGINT NOT NULL UNIQUE REFERENCES staff (id),
    signed_in_at  BIGINT NOT NULL
);

CREATE TABLE contacts (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The telephony system's call id; absent for contacts entered by hand.
    call_id                TEXT UNIQUE,
    direction              TEXT   NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    channel                TEXT   NOT NULL,
    phone_key              TEXT,
    callee                 TEXT,
    customer_id            BIGINT REFERENCES customers (id) ON DELETE SET NULL,
    agent_id               BIGINT REFERENCES staff (id),
    extension              TEXT,
    phase                  TEXT   NOT NULL,
    ring_at                BIGINT,
    answer_at              BIGINT,
    end_at                 BIGINT,
    hold_ms                BIGINT NOT NULL DEFAULT 0,
    hung_up_by             TEXT,
    transferred_to         TEXT,
    category               TEXT,
    five_w2h               TEXT   NOT NULL DEFAULT '{}',
    summary                TEXT,
    outcome                TEXT,
    outcome_work_order_id  BIGINT,
    callback_due           BIGINT,
    transfer_target        TEXT,
    transfer_reason        TEXT,
    -- A contact about an existing work order: progress_notice or satisfaction_callback.
    work_order_id          BIGINT,
    purpose                TEXT,
    created_by             TEXT   NOT NULL,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    version                BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX contacts_customer ON contacts (customer_id, created_at);
CREATE INDEX contacts_agent ON contacts (agent_id, created_at);
CREATE INDEX contacts_work_order ON contacts (work_order_id);
CREATE INDEX contacts_created ON contacts (created_at);

CREATE TABLE telephony_events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id          TEXT   NOT NULL,
    -- The sender's event id, or kind@instant: the same event twice is one row.
    dedup_key        TEXT   NOT NULL,
    kind             TEXT   NOT NULL,
    at_ms            BIGINT NOT NULL,
    caller           TEXT,
    callee           TEXT,
    extension        TEXT,
    hung_up_by       TEXT,
    transfer_target  TEXT,
    received_at      BIGINT NOT NULL,
    UNIQUE (call_id, dedup_key)
);

CREATE TABLE callbacks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id   BIGINT NOT NULL UNIQUE REFERENCES contacts (id),
    customer_id  BIGINT REFERENCES customers (id) ON DELETE SET NULL,
    agent_id     BIGINT REFERENCES staff (id),
    phone_key    TEXT,
    due_at       BIGINT NOT NULL,
    done_at      BIGINT,
    done_by      TEXT,
    done_note    TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX callbacks_agent_open ON callbacks (agent_id, done_at, due_at);
CREATE INDEX callbacks_open ON callbacks (done_at, due_at);

CREATE TABLE work_order_kinds (
    code           TEXT     PRIMARY KEY,
    name           TEXT     NOT NULL,
    workflow       TEXT     NOT NULL CHECK (workflow IN ('complaint', 'service', 'answer')),
    base_priority  SMALLINT NOT NULL CHECK (base_priority BETWEEN 0 AND 3),
    builtin        SMALLINT NOT NULL DEFAULT 0
);
INSERT INTO work_order_kinds (code, name, workflow, base_priority, builtin) VALUES
    ('repair', '报修', 'service', 2, 1),
    ('complaint', '投诉', 'complaint', 2, 1),
    ('service_request', '业务受理', 'service', 1, 1),
    ('answer', '咨询回复', 'answer', 1, 1),
    ('suggestion', '建议', 'answer', 0, 1);

-- The routing rules in force, in order (the whole list is replaced at once).
CREATE TABLE routing_rules (
    position       INTEGER PRIMARY KEY,
    kind           TEXT,
    category       TEXT,
    service_area   TEXT,
    department_id  BIGINT NOT NULL REFERENCES departments (id)
);

-- One row: the deadline policies in force (JSON list). No row means the defaults.
CREATE TABLE sla_policies (
    id          SMALLINT PRIMARY KEY CHECK (id = 1),
    version     BIGINT NOT NULL,
    policies    TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT   NOT NULL
);

CREATE TABLE work_orders (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    number                TEXT     NOT NULL UNIQUE,
    kind                  TEXT     NOT NULL REFERENCES work_order_kinds (code),
    workflow              TEXT     NOT NULL,
    state                 TEXT     NOT NULL,
    is_open               SMALLINT NOT NULL,
    reopen_count          INTEGER  NOT NULL DEFAULT 0,
    priority              SMALLINT NOT NULL,
    urgency               TEXT     NOT NULL,
    customer_id           BIGINT   REFERENCES customers (id) ON DELETE SET NULL,
    contact_id            BIGINT   REFERENCES contacts (id),
    -- The number to reach the customer on; its last four digits unlock self-service.
    phone_key             TEXT,
    subject               TEXT     NOT NULL,
    description           TEXT,
    category              TEXT,
    service_area          TEXT,
    department_id         BIGINT   REFERENCES departments (id),
    assignee_id           BIGINT   REFERENCES staff (id),
    complaint_cause       TEXT,
    complained_staff_id   BIGINT   REFERENCES staff (id),
    created_by            TEXT     NOT NULL,
    created_at            BIGINT   NOT NULL,
    updated_at            BIGINT   NOT NULL,
    first_response_due    BIGINT,
    progress_due          BIGINT,
    resolution_due        BIGINT,
    first_response_at     BIGINT,
    progress_notice_at    BIGINT,
    resolved_at           BIGINT,
    closed_at             BIGINT,
    -- Deadlines already escalated (comma-separated codes).
    escalated             TEXT     NOT NULL DEFAULT '',
    -- When the escalation sweep must look again (earliest unmet, unescalated deadline).
    next_check_at         BIGINT,
    -- The earliest unmet deadline, breached or not (9e18 when none): inbox order.
    inbox_due             BIGINT   NOT NULL,
    last_reply            TEXT,
    last_reply_at         BIGINT,
    version               BIGINT   NOT NULL DEFAULT 1
);
CREATE INDEX work_orders_inbox ON work_orders (department_id, is_open, inbox_due, id);
CREATE INDEX work_orders_open ON work_orders (is_open, inbox_due, id);
CREATE INDEX work_orders_sweep ON work_orders (next_check_at);
CREATE INDEX work_orders_customer ON work_orders (customer_id, created_at);
CREATE INDEX work_orders_created ON work_orders (created_at);

CREATE TABLE work_order_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    work_order_id   BIGINT NOT NULL REFERENCES work_orders (id),
    at_ms           BIGINT NOT NULL,
    actor_id        BIGINT,
    actor_label     TEXT   NOT NULL,
    -- created, a workflow command, assign, note, reply, progress_notice, escalated …
    event           TEXT   NOT NULL,
    from_state      TEXT,
    to_state        TEXT,
    note            TEXT   NOT NULL DEFAULT '',
    detail          TEXT   NOT NULL DEFAULT '{}'
);
CREATE INDEX work_order_events_order ON work_order_events (work_order_id, id);

CREATE TABLE work_order_notes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    work_order_id   BIGINT NOT NULL REFERENCES work_orders (id),
    visibility      TEXT   NOT NULL CHECK (visibility IN ('internal', 'customer')),
    body            TEXT   NOT NULL,
    author_id       BIGINT,
    author_label    TEXT   NOT NULL,
    at_ms           BIGINT NOT NULL
);
CREATE INDEX work_order_notes_order ON work_order_notes (work_order_id, id);

-- A breached deadline, escalated to the manager once (the unique key is the guarantee).
CREATE TABLE escalations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    work_order_id    BIGINT NOT NULL REFERENCES work_orders (id),
    deadline         TEXT   NOT NULL,
    due_at           BIGINT NOT NULL,
    escalated_at     BIGINT NOT NULL,
    department_id    BIGINT,
    acknowledged_at  BIGINT,
    acknowledged_by  TEXT,
    UNIQUE (work_order_id, deadline, due_at)
);
CREATE INDEX escalations_open ON escalations (acknowledged_at, escalated_at);

CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    url         TEXT     NOT NULL,
    secret      TEXT     NOT NULL,
    -- Comma-separated event types, or '*'.
    events      TEXT     NOT NULL,
    active      SMALLINT NOT NULL DEFAULT 1,
    created_at  BIGINT   NOT NULL
);

-- Deliveries waiting or done; written in the transaction of the event they report.
CREATE TABLE webhook_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id       BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_type       TEXT   NOT NULL,
    payload          TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    delivered_at     BIGINT,
    last_error       TEXT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (delivered_at, next_attempt_at);

-- Fixed-window counters (self-service lookups), shared by every server instance.
CREATE TABLE rate_limits (
    bucket        TEXT   PRIMARY KEY,
    window_start  BIGINT NOT NULL,
    hits          BIGINT NOT NULL
);
