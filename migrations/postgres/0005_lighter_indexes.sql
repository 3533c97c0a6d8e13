-- Fewer index entries per row on the busiest inserts (an identity, an audit event):
-- - identities without an external id (most of them) get no entry in its unique index;
-- - audit events about no app user (every token issued to a backend) get no app-user entry;
-- - the audit trail is appended in time order, so a BRIN index on its time is a few pages
--   for the whole table and costs an insert almost nothing, where a B-tree took an entry a row.
ALTER TABLE identities DROP CONSTRAINT identities_external_id_key;
CREATE UNIQUE INDEX identities_external_id ON identities (external_id)
    WHERE external_id IS NOT NULL;

DROP INDEX audit_events_app_user;
CREATE INDEX audit_events_app_user ON audit_events (app_user_id) WHERE app_user_id IS NOT NULL;

DROP INDEX audit_events_at;
CREATE INDEX audit_events_at ON audit_events USING brin (at_ms);
