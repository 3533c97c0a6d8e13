-- A client's own request id, kept apart from the server's: a client cannot choose, replace or
-- collide with the id an operator searches the logs for.
ALTER TABLE audit_events ADD COLUMN client_request_id TEXT;

-- Signatures already used on a key-administration route, until they could no longer pass the
-- date check anyway: a captured request cannot be replayed on any instance.
CREATE TABLE used_signatures (
    digest        BLOB PRIMARY KEY,
    expires_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
