-- SQLite moves its audit trail's per-identity index into a table of its own, filled in bulk;
-- PostgreSQL keeps the index on the partitioned table. The migration numbers stay the same for
-- both stores.
SELECT 1;
