-- The audit trail: who did what to which identity or app user, when, from where, in which
-- request. Rows outlive the identities and users they name (no foreign keys); erasure clears
-- the client address, the only personal data a row holds beyond the ids.
CREATE TABLE audit_events (
    id             BIGSERIAL PRIMARY KEY,
    at_ms          BIGINT NOT NULL,
    action         TEXT NOT NULL,
    actor          TEXT NOT NULL,
    identity_id    UUID,
    app_user_id    UUID,
    details        TEXT,
    client_address TEXT,
    request_id     TEXT
);
CREATE INDEX audit_events_at ON audit_events (at_ms);
CREATE INDEX audit_events_identity ON audit_events (identity_id, id);
CREATE INDEX audit_events_app_user ON audit_events (app_user_id);
