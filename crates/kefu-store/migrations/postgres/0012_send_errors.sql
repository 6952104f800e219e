-- The board counts sends per channel and state from the index alone.
DROP INDEX incident_sends_incident;
CREATE INDEX incident_sends_incident ON incident_sends (incident_id, channel, state);
-- The board's latest error per channel: only sends that carry an error are indexed.
CREATE INDEX incident_sends_errors ON incident_sends (incident_id, channel, updated_at)
    WHERE last_error IS NOT NULL;
