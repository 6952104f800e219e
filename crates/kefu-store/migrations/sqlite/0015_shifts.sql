-- Shift sign-in and sign-out 签入/签出 with the handover note 交接班 (S8). One open
-- shift per person at a time.

CREATE TABLE shifts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id       BIGINT   NOT NULL REFERENCES staff (id),
    signed_in_at   BIGINT   NOT NULL,
    signed_out_at  BIGINT,
    handover_note  TEXT
);
CREATE UNIQUE INDEX shifts_open ON shifts (staff_id) WHERE signed_out_at IS NULL;
CREATE INDEX shifts_time ON shifts (signed_in_at);
