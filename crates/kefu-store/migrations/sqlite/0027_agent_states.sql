-- Agent states (签入, 置忙 with a reason, ringing, on a call, 话后处理, 签出): the
-- state now per agent, and every stretch of a state, for the wallboard and the
-- time in each state per day.
CREATE TABLE agent_states (
    staff_id    BIGINT PRIMARY KEY REFERENCES staff (id),
    state       TEXT   NOT NULL,
    reason      TEXT,
    since       BIGINT NOT NULL,
    -- Wrap-up's end.
    until_at    BIGINT,
    updated_at  BIGINT NOT NULL
);
CREATE TABLE agent_state_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id    BIGINT NOT NULL REFERENCES staff (id),
    state       TEXT   NOT NULL,
    reason      TEXT,
    started_at  BIGINT NOT NULL,
    ended_at    BIGINT
);
CREATE INDEX agent_state_log_staff ON agent_state_log (staff_id, started_at);
