-- Escalation lists are newest first with the id as tie-breaker: an index in that
-- order lets them stop after a page instead of sorting every escalation.
DROP INDEX escalations_open;
CREATE INDEX escalations_open ON escalations (acknowledged_at, escalated_at, id);
