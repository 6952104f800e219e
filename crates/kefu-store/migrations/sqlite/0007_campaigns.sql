-- Follow-up campaigns 回访: campaigns, their frozen target lists (回访对象表) and
-- attempts; customers' last contact and do-not-call flag for target selection.

ALTER TABLE customers ADD COLUMN last_contact_at BIGINT;
ALTER TABLE customers ADD COLUMN do_not_call SMALLINT NOT NULL DEFAULT 0;
UPDATE customers SET last_contact_at =
    (SELECT MAX(c.created_at) FROM contacts c WHERE c.customer_id = customers.id);
CREATE INDEX customers_last_contact ON customers (last_contact_at, id);

CREATE TABLE campaigns (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT     NOT NULL,
    purpose          TEXT     NOT NULL,
    script           TEXT     NOT NULL,
    -- JSON list of questions; absent when the campaign asks none.
    questionnaire    TEXT,
    starts_at        BIGINT   NOT NULL,
    ends_at          BIGINT   NOT NULL,
    max_attempts     INTEGER  NOT NULL,
    retry_minutes    INTEGER  NOT NULL,
    planned_minutes  INTEGER  NOT NULL,
    -- JSON calling rules.
    calling          TEXT     NOT NULL,
    -- JSON selection as given, and the seed of its random sample.
    selection        TEXT,
    seed             BIGINT,
    n_targets        BIGINT   NOT NULL DEFAULT 0,
    created_by       TEXT     NOT NULL,
    created_at       BIGINT   NOT NULL,
    updated_at       BIGINT   NOT NULL
);

CREATE TABLE campaign_agents (
    campaign_id  BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    staff_id     BIGINT NOT NULL REFERENCES staff (id),
    PRIMARY KEY (campaign_id, staff_id)
);

CREATE TABLE campaign_targets (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id    BIGINT   NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    position       BIGINT   NOT NULL,
    customer_id    BIGINT   REFERENCES customers (id) ON DELETE SET NULL,
    phone_key      TEXT,
    -- 0 first: 3 minus the tier's priority boost.
    tier_rank      SMALLINT NOT NULL,
    organisation   SMALLINT NOT NULL,
    preferred      TEXT,
    status         TEXT     NOT NULL,
    attempts       INTEGER  NOT NULL DEFAULT 0,
    not_before     BIGINT,
    callback_at    BIGINT,
    locked_by      BIGINT,
    locked_until   BIGINT,
    last_result    TEXT,
    satisfaction   SMALLINT,
    completed_at   BIGINT,
    updated_at     BIGINT   NOT NULL,
    UNIQUE (campaign_id, position)
);
CREATE INDEX campaign_targets_queue ON campaign_targets (campaign_id, status, tier_rank, attempts, position);
CREATE INDEX campaign_targets_callbacks ON campaign_targets (campaign_id, status, callback_at);
CREATE INDEX campaign_targets_customer ON campaign_targets (customer_id);

CREATE TABLE campaign_attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id   BIGINT   NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    target_id     BIGINT   NOT NULL REFERENCES campaign_targets (id) ON DELETE CASCADE,
    agent_id      BIGINT,
    result        TEXT     NOT NULL,
    at_ms         BIGINT   NOT NULL,
    satisfaction  SMALLINT,
    answers       TEXT     NOT NULL DEFAULT '[]',
    notes         TEXT,
    contact_id    BIGINT,
    duration_s    BIGINT
);
CREATE INDEX campaign_attempts_campaign ON campaign_attempts (campaign_id, at_ms);
