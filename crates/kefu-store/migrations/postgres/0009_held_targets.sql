-- Next-call first looks for the target an agent already holds: by agent, indexed.
CREATE INDEX campaign_targets_held ON campaign_targets (locked_by, campaign_id);
