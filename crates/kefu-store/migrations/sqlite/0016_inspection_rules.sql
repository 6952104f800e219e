-- The inspection rules a center tunes (S7), versioned like the phrasebook: each
-- saved edit is a new version, none stored means the shipped defaults. Campaign
-- attempts keep the calling window's verdict at the start of the call, so the
-- inspection of a campaign call can check it.

CREATE TABLE inspection_rules (
    version     BIGINT   PRIMARY KEY,
    -- The rules as JSON (the domain's form).
    rules       TEXT     NOT NULL,
    created_by  TEXT     NOT NULL,
    created_at  BIGINT   NOT NULL
);

-- 'inside', or why the window refused the call (e.g. 'rest_time'); NULL for
-- attempts recorded before the verdict was kept.
ALTER TABLE campaign_attempts ADD COLUMN calling_window TEXT;
-- The call's local start time "HH:MM", shown with a refusal.
ALTER TABLE campaign_attempts ADD COLUMN local_start TEXT;
