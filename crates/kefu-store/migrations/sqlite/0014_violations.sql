-- Assessment 检查与考核 (S8): violations recorded against an agent, with an
-- optional penalty, the agent's appeal and the manager's decision.

CREATE TABLE violations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id        BIGINT   NOT NULL REFERENCES staff (id),
    -- inspection, complaint or supervisor.
    source          TEXT     NOT NULL,
    inspection_id   BIGINT   REFERENCES inspections (id),
    work_order_id   BIGINT   REFERENCES work_orders (id),
    description     TEXT     NOT NULL,
    penalty_fen     BIGINT,
    -- recorded, appealed, upheld or withdrawn.
    status          TEXT     NOT NULL,
    appeal_reason   TEXT,
    decision_note   TEXT,
    recorded_by     TEXT     NOT NULL,
    decided_by      TEXT,
    created_at      BIGINT   NOT NULL,
    updated_at      BIGINT   NOT NULL
);
CREATE INDEX violations_agent ON violations (agent_id, created_at);
CREATE INDEX violations_status ON violations (status, id);
