-- A manager pauses, resumes and closes a campaign; calls are made only while it
-- is active.
ALTER TABLE campaigns ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
