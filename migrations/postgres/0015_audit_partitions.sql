-- The audit trail partitioned by UTC day of `at_ms`, so retention drops whole days (no long
-- DELETE, no bloat) and a day's inserts touch only that day's indexes. The rows written so far
-- stay where they are, as the partition of everything before tomorrow; Callsign creates each
-- day's partition a week ahead and drops those past retention.
ALTER TABLE audit_events RENAME TO audit_events_before_partitions;
ALTER INDEX audit_events_pkey RENAME TO audit_events_before_partitions_pkey;
ALTER INDEX audit_events_identity RENAME TO audit_events_before_partitions_identity;
ALTER INDEX audit_events_app_user RENAME TO audit_events_before_partitions_app_user;
-- Partition pruning finds a time range now; the BRIN index has nothing left to do.
DROP INDEX audit_events_at;
ALTER SEQUENCE audit_events_id_seq OWNED BY NONE;

CREATE TABLE audit_events (
    id                BIGINT NOT NULL DEFAULT nextval('audit_events_id_seq'),
    at_ms             BIGINT NOT NULL,
    action            TEXT NOT NULL,
    actor             TEXT NOT NULL,
    identity_id       UUID,
    app_user_id       UUID,
    details           TEXT,
    client_address    TEXT,
    request_id        TEXT,
    client_request_id TEXT
) PARTITION BY RANGE (at_ms);
ALTER SEQUENCE audit_events_id_seq OWNED BY audit_events.id;
-- Newest first, in pages (the primary key did this before).
CREATE INDEX audit_events_id ON audit_events (id);
CREATE INDEX audit_events_identity ON audit_events (identity_id, id);
CREATE INDEX audit_events_app_user ON audit_events (app_user_id) WHERE app_user_id IS NOT NULL;

DO $$
DECLARE
    day_ms   CONSTANT BIGINT := 86400000;
    tomorrow BIGINT := (floor(extract(epoch FROM now()) * 1000 / day_ms)::BIGINT + 1) * day_ms;
    day      BIGINT;
BEGIN
    -- The index on `id` is the old primary key's; the others are built on attaching.
    EXECUTE format(
        'ALTER TABLE audit_events_before_partitions ADD CONSTRAINT audit_events_before_partitions_at '
        'CHECK (at_ms IS NOT NULL AND at_ms < %s)', tomorrow);
    EXECUTE format(
        'ALTER TABLE audit_events ATTACH PARTITION audit_events_before_partitions '
        'FOR VALUES FROM (MINVALUE) TO (%s)', tomorrow);
    FOR i IN 0..7 LOOP
        day := tomorrow + i * day_ms;
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%s) TO (%s)',
            'audit_events_' || to_char(to_timestamp(day / 1000) AT TIME ZONE 'UTC', 'YYYY_MM_DD'),
            day, day + day_ms);
    END LOOP;
END $$;
