-- The next-call queue as one index walk: each pending target carries the earliest
-- time it may be called as far as is known (retry spacing, an agreed call-back, or
-- a calling window found closed when it was last looked at) and its queue class
-- (0: an agreed call-back, 1: the rest). Next-call takes the first free target of
-- the index whose time has come and defers the ones the windows refuse. Only
-- pending targets are in the queue index, only held ones in the index of holds,
-- and only complaint callbacks in the index of work orders: a finished target
-- costs nothing there, and freezing a long list writes less.
ALTER TABLE campaign_targets ADD COLUMN callable_from BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaign_targets ADD COLUMN queue_class SMALLINT NOT NULL DEFAULT 1;
UPDATE campaign_targets SET
    callable_from = COALESCE(callback_at, not_before, 0),
    queue_class = CASE WHEN callback_at IS NULL THEN 1 ELSE 0 END;
DROP INDEX campaign_targets_queue;
DROP INDEX campaign_targets_callbacks;
DROP INDEX campaign_targets_held;
DROP INDEX campaign_targets_work_order;
CREATE INDEX campaign_targets_queue ON campaign_targets
    (campaign_id, queue_class, tier_rank, attempts, position, callable_from, locked_until)
    WHERE status = 'pending';
CREATE INDEX campaign_targets_held ON campaign_targets (locked_by, campaign_id)
    WHERE locked_by IS NOT NULL;
CREATE INDEX campaign_targets_work_order ON campaign_targets (work_order_id)
    WHERE work_order_id IS NOT NULL;
-- The latest note of each target, for the target list with outcomes.
CREATE INDEX campaign_attempts_target ON campaign_attempts (target_id, at_ms);
