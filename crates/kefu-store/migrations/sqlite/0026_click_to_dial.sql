-- Click-to-dial: an agent asks for a call to a customer; a PBX bridge takes the
-- request, rings the agent's extension, then the customer. The call's contact
-- carries the request, which ties it to what it was for (a promised callback, a
-- campaign target, an incident notice, or just the customer).
CREATE TABLE dial_requests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id     BIGINT NOT NULL REFERENCES staff (id),
    extension    TEXT   NOT NULL,
    number_key   TEXT   NOT NULL,
    customer_id  BIGINT REFERENCES customers (id) ON DELETE SET NULL,
    -- customer, callback, campaign_target or incident_notice.
    purpose      TEXT   NOT NULL,
    ref_id       BIGINT,
    -- waiting, taken (by a bridge), connected (its call reached Kefu), recorded
    -- (the outcome was recorded on it), failed or expired (no bridge took it).
    status       TEXT   NOT NULL,
    bridge       TEXT,
    -- Why it failed: busy, no_answer, rejected, unreachable, not_dialable, failed.
    reason       TEXT,
    detail       TEXT,
    contact_id   BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX dial_requests_status ON dial_requests (status, id);
CREATE INDEX dial_requests_ref ON dial_requests (purpose, ref_id, staff_id);
ALTER TABLE contacts ADD COLUMN dial_id BIGINT;
-- Bridges ask for dial requests every moment; the last time each asked tells the
-- console whether click-to-dial is on.
CREATE TABLE bridges_seen (
    source   TEXT   PRIMARY KEY,
    seen_at  BIGINT NOT NULL
);
