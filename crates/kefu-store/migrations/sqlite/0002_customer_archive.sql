-- The customer archive (S1): full profile, normalised phone numbers for the screen
-- pop, tags, tier and its history, editable tier rules, and background jobs.

-- The first migration kept phone numbers as written; no release shipped with them.
-- Numbers now live normalised in customer_phones.
ALTER TABLE customers DROP COLUMN phone;
ALTER TABLE customers DROP COLUMN mobile;

ALTER TABLE customers ADD COLUMN occupation TEXT;
ALTER TABLE customers ADD COLUMN birth_date TEXT;
ALTER TABLE customers ADD COLUMN age_band TEXT;
ALTER TABLE customers ADD COLUMN gender TEXT;
ALTER TABLE customers ADD COLUMN position TEXT;
-- Exact amounts in fen (1/100 yuan).
ALTER TABLE customers ADD COLUMN assets_fen BIGINT;
ALTER TABLE customers ADD COLUMN liquidity TEXT;
ALTER TABLE customers ADD COLUMN preferences TEXT;
ALTER TABLE customers ADD COLUMN family TEXT;
ALTER TABLE customers ADD COLUMN needs TEXT;
ALTER TABLE customers ADD COLUMN notes TEXT;
ALTER TABLE customers ADD COLUMN preferred_contact_time TEXT;
ALTER TABLE customers ADD COLUMN behaviour_type TEXT;
ALTER TABLE customers ADD COLUMN tier TEXT NOT NULL DEFAULT 'normal';

CREATE INDEX customers_tier ON customers (tier, code);
-- Area and tier are the most combined segment filters.
DROP INDEX customers_area;
CREATE INDEX customers_area_tier ON customers (service_area, tier, code);
CREATE INDEX customers_occupation ON customers (occupation);
CREATE INDEX customers_birth_date ON customers (birth_date);

CREATE TABLE customer_phones (
    customer_id  BIGINT   NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    position     SMALLINT NOT NULL,
    label        TEXT     NOT NULL CHECK (label IN ('phone', 'mobile', 'fax')),
    phone_key    TEXT     NOT NULL,
    extension    TEXT,
    PRIMARY KEY (customer_id, position)
);
CREATE INDEX customer_phones_key ON customer_phones (phone_key);

CREATE TABLE customer_tags (
    customer_id  BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    tag          TEXT   NOT NULL,
    PRIMARY KEY (customer_id, tag)
);
CREATE INDEX customer_tags_tag ON customer_tags (tag, customer_id);

CREATE TABLE customer_tier_history (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id    BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    at_ms          BIGINT NOT NULL,
    from_tier      TEXT,
    to_tier        TEXT   NOT NULL,
    -- created, profile_changed, rules_changed, import
    reason         TEXT   NOT NULL,
    assets_fen     BIGINT,
    threshold_fen  BIGINT NOT NULL,
    rules_version  BIGINT NOT NULL,
    actor_label    TEXT   NOT NULL
);
CREATE INDEX customer_tier_history_customer ON customer_tier_history (customer_id, at_ms);

-- One row: the tier rules in force (JSON list of tiers). No row means the defaults.
CREATE TABLE tier_rules (
    id          SMALLINT PRIMARY KEY CHECK (id = 1),
    version     BIGINT NOT NULL,
    rules       TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT   NOT NULL
);

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT   NOT NULL,
    status       TEXT   NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'superseded')),
    params       TEXT   NOT NULL,
    total        BIGINT NOT NULL DEFAULT 0,
    done         BIGINT NOT NULL DEFAULT 0,
    changed      BIGINT NOT NULL DEFAULT 0,
    error        TEXT,
    created_by   TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    finished_at  BIGINT
);
CREATE INDEX jobs_status ON jobs (status);
