-- The audit trail partitioned by UTC day of `at_ms`, so retention drops whole days (no long
-- DELETE, no bloat) and a day's inserts touch only that day's indexes. The rows written so far
-- stay where they are, as the partition of everything before tomorrow; Callsign creates each
-- day's partition a week ahead and drops those past retention.
--
-- Attaching the rows written so far reads them once (to check their time range) and builds
-- their index on `id`; on a large trail that takes a while, so no statement timeout applies.
SET LOCAL statement_timeout = 0;

DO $$
BEGIN
    IF current_setting('server_version_num')::int < 140000 THEN
        RAISE EXCEPTION 'Callsign needs PostgreSQL 14 or later: it detaches the audit trail''s '
            'partitions concurrently';
    END IF;
END $$;

ALTER TABLE audit_events RENAME TO audit_events_before_partitions;
-- A unique index cannot serve the partitioned table's index on `id` (the partition key is not
-- in it), which is built anew; the primary key would only be a second copy.
ALTER TABLE audit_events_before_partitions DROP CONSTRAINT audit_events_pkey;
-- These two serve the partitioned table's indexes of the same definition.
ALTER INDEX audit_events_identity RENAME TO audit_events_before_partitions_identity;
ALTER INDEX audit_events_app_user RENAME TO audit_events_before_partitions_app_user;
-- Kept to trim these rows by time until all of them are past retention; the days after them
-- are found by partition pruning instead.
ALTER INDEX audit_events_at RENAME TO audit_events_before_partitions_at;
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
    -- A valid constraint implying the range spares the attach a second read of the rows.
    EXECUTE format(
        'ALTER TABLE audit_events_before_partitions ADD CONSTRAINT audit_events_before_partitions_range '
        'CHECK (at_ms < %s)', tomorrow);
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
