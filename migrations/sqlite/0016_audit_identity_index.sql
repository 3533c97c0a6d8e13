-- The audit trail's per-identity index, kept apart from the rows and filled in rounds, in
-- identity order, once enough rows have gathered past its mark (`src/store/audit/sqlite.rs`):
-- an index on the rows themselves took a write to every identity's last leaf in every batch.
CREATE TABLE audit_identity_events (
    identity_id TEXT NOT NULL,
    event_id    INTEGER NOT NULL,
    PRIMARY KEY (identity_id, event_id)
) WITHOUT ROWID;

-- The last audit row the index covers (the rows after it are found by scanning them), and the
-- round that indexes the next rows, in identity order: its last row, and the next entry to add.
CREATE TABLE audit_identity_mark (
    one            INTEGER PRIMARY KEY CHECK (one = 1),
    up_to          INTEGER NOT NULL,
    round_to       INTEGER NOT NULL,
    next_identity  TEXT NOT NULL,
    next_event     INTEGER NOT NULL
);

INSERT INTO audit_identity_events (identity_id, event_id)
    SELECT identity_id, id FROM audit_events WHERE identity_id IS NOT NULL
    ORDER BY identity_id, id;
INSERT INTO audit_identity_mark (one, up_to, round_to, next_identity, next_event)
    SELECT 1, coalesce(max(id), 0), coalesce(max(id), 0), '', 0 FROM audit_events;
DROP INDEX audit_events_identity;
