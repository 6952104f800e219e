-- A manager acknowledges an escalation with a note: what was done about the
-- late order (called the department, promised the customer a time).
ALTER TABLE escalations ADD COLUMN acknowledge_note TEXT;
