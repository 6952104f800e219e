-- The center's search dictionary: its own words (product and place names kept
-- whole when segmenting) and synonym groups, versioned like the phrasebook; the
-- latest edition is in force, none means the shipped lists alone.

CREATE TABLE search_dictionaries (
    version     BIGINT   PRIMARY KEY,
    -- JSON list of words.
    words       TEXT     NOT NULL,
    -- JSON list of groups, each a list of words.
    synonyms    TEXT     NOT NULL,
    created_by  TEXT     NOT NULL,
    created_at  BIGINT   NOT NULL
);
