-- Foundation: departments, staff accounts, sessions, API tokens, the audit chain,
-- the customer archive's first columns and the search index.
-- Instants are integer milliseconds since the Unix epoch (UTC); flags are 0/1.

CREATE TABLE departments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    code        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    version     BIGINT  NOT NULL DEFAULT 1
);

CREATE TABLE staff (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_no              TEXT     NOT NULL UNIQUE,
    name                  TEXT     NOT NULL,
    role                  TEXT     NOT NULL CHECK (role IN ('agent', 'handler', 'manager', 'admin')),
    department_id         BIGINT   REFERENCES departments (id),
    password_hash         TEXT     NOT NULL,
    must_change_password  SMALLINT NOT NULL DEFAULT 1,
    failed_logins         BIGINT   NOT NULL DEFAULT 0,
    locked_until          BIGINT,
    active                SMALLINT NOT NULL DEFAULT 1,
    created_at            BIGINT   NOT NULL,
    updated_at            BIGINT   NOT NULL,
    version               BIGINT   NOT NULL DEFAULT 1
);
CREATE INDEX staff_department ON staff (department_id);

CREATE TABLE sessions (
    token_hash    TEXT   PRIMARY KEY,
    staff_id      BIGINT NOT NULL REFERENCES staff (id),
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL
);
CREATE INDEX sessions_staff ON sessions (staff_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id      BIGINT NOT NULL REFERENCES staff (id),
    name          TEXT   NOT NULL,
    token_hash    TEXT   NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_tokens_staff ON api_tokens (staff_id);

CREATE TABLE audit_log (
    seq          BIGINT PRIMARY KEY,
    at_ms        BIGINT NOT NULL,
    actor_id     BIGINT,
    actor_label  TEXT   NOT NULL,
    action       TEXT   NOT NULL,
    object_type  TEXT   NOT NULL,
    object_id    TEXT   NOT NULL,
    detail       TEXT   NOT NULL,
    prev_hash    TEXT   NOT NULL,
    hash         TEXT   NOT NULL
);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id);
CREATE INDEX audit_log_actor ON audit_log (actor_id);
CREATE INDEX audit_log_at ON audit_log (at_ms);

CREATE TABLE audit_head (
    id    SMALLINT PRIMARY KEY CHECK (id = 1),
    seq   BIGINT   NOT NULL,
    hash  TEXT     NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE customers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    code          TEXT   NOT NULL UNIQUE,
    name          TEXT   NOT NULL,
    kind          TEXT   NOT NULL CHECK (kind IN ('person', 'organisation')),
    phone         TEXT,
    mobile        TEXT,
    email         TEXT,
    address       TEXT,
    service_area  TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    version       BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX customers_area ON customers (service_area);

-- Search: documents are segmented into words in the application (jieba) and the
-- space-separated words are indexed here, in the same transaction as the data.
CREATE TABLE search_docs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_kind    TEXT   NOT NULL,
    doc_id      BIGINT NOT NULL,
    title       TEXT   NOT NULL,
    body        TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (doc_kind, doc_id)
);
CREATE VIRTUAL TABLE search_fts USING fts5 (
    title, body,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
