-- PostgreSQL partitions its audit trail by day here; SQLite keeps one table, trimmed by the
-- retention job's DELETE. The migration numbers stay the same for both stores.
SELECT 1;
