-- A call's recording as the PBX names it (a file path, or what a URL template
-- makes of the call), kept on the event that reported it and on the contact.
ALTER TABLE telephony_events ADD COLUMN recording TEXT;
ALTER TABLE contacts ADD COLUMN recording TEXT;
-- The calls a bridge's PBX may still have: only calls not yet ended are indexed,
-- so a reconnecting bridge's question reads the live calls and nothing else.
CREATE INDEX contacts_live_calls ON contacts (call_id) WHERE phase <> 'ended' AND call_id IS NOT NULL;
