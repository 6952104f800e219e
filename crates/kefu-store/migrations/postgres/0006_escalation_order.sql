-- Escalation lists are newest first with the id as tie-breaker: an index in that
-- order lets them stop after a page instead of sorting every escalation.
DROP INDEX escalations_open;
CREATE INDEX escalations_open ON escalations (acknowledged_at, escalated_at, id);

-- Name search orders by code point (collation "C"), which an index in that collation
-- serves directly: a prefix matching tens of thousands of names stops after a page.
DROP INDEX customers_name;
CREATE INDEX customers_name ON customers ((name COLLATE "C"));
