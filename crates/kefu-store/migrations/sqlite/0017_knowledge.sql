-- The knowledge base 咨询库 (S9): articles in categories with tags, draft /
-- published / archived; every saved change is a version kept whole, so any two can
-- be compared. Articles are indexed for search in the transaction that saves them.
-- The search documents gain the columns search filters on.

CREATE TABLE kb_articles (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    title       TEXT     NOT NULL,
    body        TEXT     NOT NULL,
    category    TEXT     NOT NULL,
    -- JSON list of tags.
    tags        TEXT     NOT NULL,
    status      TEXT     NOT NULL,
    version     BIGINT   NOT NULL,
    created_by  TEXT     NOT NULL,
    created_at  BIGINT   NOT NULL,
    updated_by  TEXT     NOT NULL,
    updated_at  BIGINT   NOT NULL
);
CREATE INDEX kb_articles_list ON kb_articles (status, category, updated_at);

CREATE TABLE kb_article_versions (
    article_id  BIGINT   NOT NULL REFERENCES kb_articles (id) ON DELETE CASCADE,
    version     BIGINT   NOT NULL,
    title       TEXT     NOT NULL,
    body        TEXT     NOT NULL,
    category    TEXT     NOT NULL,
    tags        TEXT     NOT NULL,
    status      TEXT     NOT NULL,
    note        TEXT,
    changed_by  TEXT     NOT NULL,
    changed_at  BIGINT   NOT NULL,
    PRIMARY KEY (article_id, version)
);

-- What search filters on: the document's state (an article's status, an order's
-- state), its department and customer, and its date.
ALTER TABLE search_docs ADD COLUMN state TEXT;
ALTER TABLE search_docs ADD COLUMN department_id BIGINT;
ALTER TABLE search_docs ADD COLUMN customer_id BIGINT;
ALTER TABLE search_docs ADD COLUMN doc_at BIGINT;
