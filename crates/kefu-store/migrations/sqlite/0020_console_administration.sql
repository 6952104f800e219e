-- Integration accounts (a PBX bridge, an enterprise system) never sign in
-- interactively: they have no password and work with API tokens made for them.
ALTER TABLE staff ADD COLUMN signs_in SMALLINT NOT NULL DEFAULT 1;

-- The business calendar (working hours, statutory holidays, 调休 working days) as
-- edited in the console, versioned like the search dictionary: the latest edition
-- is in force; none means the calendar file the server was started with.
CREATE TABLE business_calendars (
    version     BIGINT   PRIMARY KEY,
    -- The calendar in the calendar file's format.
    source      TEXT     NOT NULL,
    created_by  TEXT     NOT NULL,
    created_at  BIGINT   NOT NULL
);

-- The console reads the audit trail newest first by actor, action or kind of
-- record (each administration page shows its own changes): keyset on seq within
-- each.
CREATE INDEX audit_log_type_seq ON audit_log (object_type, seq);
CREATE INDEX audit_log_action_seq ON audit_log (action, seq);
CREATE INDEX audit_log_actor_seq ON audit_log (actor_id, seq);

-- A customer's page lists the notices they were sent.
CREATE INDEX incident_notices_customer ON incident_notices (customer_id);
