-- Search documents carry filter words (their kind, state, department and
-- customer) in the word index, so a search confined to some of them intersects
-- word lists instead of reading documents to discard them. Documents indexed
-- before have none: the store re-indexes them once, after migrating, while the
-- format recorded here is below the code's (the first format with filter words: 2).
CREATE TABLE search_index_format (format BIGINT NOT NULL);
INSERT INTO search_index_format (format)
    SELECT CASE WHEN EXISTS (SELECT 1 FROM search_docs) THEN 1 ELSE 2 END;
