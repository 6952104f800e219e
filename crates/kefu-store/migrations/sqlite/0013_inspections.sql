-- Service language and quality inspection 质检 (S7): phrasebook editions (each
-- saved edit is a new version; none stored means the shipped default), call
-- transcripts, inspections (automatic verdicts, kept as computed) and the
-- reviewers' confirmations or overrides per item (kept beside them).

CREATE TABLE phrasebooks (
    version     BIGINT   PRIMARY KEY,
    -- The edition as JSON (the domain's form).
    source      TEXT     NOT NULL,
    created_by  TEXT     NOT NULL,
    created_at  BIGINT   NOT NULL
);

CREATE TABLE call_transcripts (
    contact_id  BIGINT   PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
    -- json, srt or vtt: what was uploaded.
    format      TEXT     NOT NULL,
    -- The parsed turns as JSON.
    turns       TEXT     NOT NULL,
    created_by  TEXT     NOT NULL,
    created_at  BIGINT   NOT NULL
);

CREATE TABLE inspections (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id          BIGINT   NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    agent_id            BIGINT   REFERENCES staff (id),
    phrasebook_version  BIGINT   NOT NULL,
    score               INTEGER  NOT NULL,
    passed              SMALLINT NOT NULL,
    deductions          INTEGER  NOT NULL,
    -- The whole result (items with evidence) as JSON.
    result              TEXT     NOT NULL,
    -- automatic (on a completed call with a transcript) or on_demand.
    origin              TEXT     NOT NULL,
    reviewed            SMALLINT NOT NULL DEFAULT 0,
    created_at          BIGINT   NOT NULL
);
CREATE INDEX inspections_contact ON inspections (contact_id, id);
CREATE INDEX inspections_queue ON inspections (reviewed, passed, id);
CREATE INDEX inspections_agent ON inspections (agent_id, created_at);

CREATE TABLE inspection_reviews (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    inspection_id  BIGINT   NOT NULL REFERENCES inspections (id) ON DELETE CASCADE,
    rule           TEXT     NOT NULL,
    -- confirm or override.
    verdict        TEXT     NOT NULL,
    -- The points the reviewer deducts for the item (override), or the automatic ones.
    points         INTEGER  NOT NULL,
    comment        TEXT,
    reviewer       TEXT     NOT NULL,
    created_at     BIGINT   NOT NULL
);
CREATE INDEX inspection_reviews_inspection ON inspection_reviews (inspection_id, id);
