-- Running totals for reports, kept in the transactions that change the data, so the
-- dashboard reads a few hundred rows however many contacts and orders exist.

-- Per local day (the center's time zone): metric and key → count. Metrics:
-- contacts (key: category or uncategorised), contacts_hour (key: 00–23),
-- deadline (met, breached), satisfaction (satisfied, unsatisfied),
-- complaint_cause (cause code or unclassified, when a complaint file is archived).
CREATE TABLE daily_counts (
    day     TEXT   NOT NULL,
    metric  TEXT   NOT NULL,
    key     TEXT   NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (day, metric, key)
);
CREATE INDEX daily_counts_metric ON daily_counts (metric, day);

-- Work orders per department (0: none) and state.
CREATE TABLE work_order_state_counts (
    department_id  BIGINT NOT NULL,
    state          TEXT   NOT NULL,
    n              BIGINT NOT NULL,
    PRIMARY KEY (department_id, state)
);
INSERT INTO work_order_state_counts (department_id, state, n)
    SELECT COALESCE(department_id, 0), state, COUNT(*) FROM work_orders
    GROUP BY COALESCE(department_id, 0), state;
-- Prefix search of names for the console's customer search.
CREATE INDEX customers_name ON customers (name text_pattern_ops);
