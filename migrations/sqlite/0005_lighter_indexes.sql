-- Fewer index entries per audit row: events about no app user (every token issued to a
-- backend) get no app-user entry.
DROP INDEX audit_events_app_user;
CREATE INDEX audit_events_app_user ON audit_events (app_user_id) WHERE app_user_id IS NOT NULL;
