-- The archive's list shows a segment in code order. Each index a segment filter
-- can use carries the code after the filtered column, so the filter's customers
-- come out already in code order and a page reads only as far as its last row,
-- instead of sorting every customer the filter matches.
CREATE INDEX customers_area_code ON customers (service_area, code);
DROP INDEX customers_occupation;
CREATE INDEX customers_occupation ON customers (occupation, code);
CREATE INDEX customers_position ON customers (position, code);
