-- Search documents carry filter words (their kind, state, department and
-- customer) in the word index, so a search confined to some of them intersects
-- word lists instead of reading documents to discard them; and a document's FTS5
-- rowid puts its kind in the bits above `search_docs.id`, so each kind is one
-- rowid range. The word index is rebuilt empty here: the store re-indexes every
-- record once, after migrating, while the format recorded here is below the
-- code's (the first with filter words and kind bands: 2).
DROP TABLE search_fts;
CREATE VIRTUAL TABLE search_fts USING fts5 (
    title, body,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE search_index_format (format BIGINT NOT NULL);
INSERT INTO search_index_format (format)
    SELECT CASE WHEN EXISTS (SELECT 1 FROM search_docs) THEN 1 ELSE 2 END;
