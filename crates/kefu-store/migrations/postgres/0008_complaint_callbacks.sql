-- Satisfaction callbacks of complaints (S4 step 6) run as targets of a standing
-- campaign; each target names its complaint.
ALTER TABLE campaigns ADD COLUMN kind TEXT NOT NULL DEFAULT 'campaign';
ALTER TABLE campaign_targets ADD COLUMN work_order_id BIGINT;
CREATE INDEX campaign_targets_work_order ON campaign_targets (work_order_id);
