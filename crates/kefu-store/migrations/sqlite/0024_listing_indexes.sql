-- The escalations page with the acknowledged ones (newest first, any status), and
-- the audit trail filtered by one person's acts on one kind of record: each walks
-- its own index instead of reading past every other record.
CREATE INDEX escalations_recent ON escalations (escalated_at, id);
CREATE INDEX audit_actor_object ON audit_log (actor_id, object_type, seq);
