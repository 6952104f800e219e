-- Open work orders per department (0: not yet assigned to one), kept in the
-- transaction of every change that opens, closes or moves an order, so an inbox
-- shows its exact size without counting tens of thousands of rows per page.
CREATE TABLE work_order_open_counts (
    department_id  BIGINT PRIMARY KEY,
    open_orders    BIGINT NOT NULL
);
INSERT INTO work_order_open_counts (department_id, open_orders)
    SELECT COALESCE(department_id, 0), COUNT(*) FROM work_orders WHERE is_open = 1
    GROUP BY COALESCE(department_id, 0);
