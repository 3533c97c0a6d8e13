-- One-time password-reset tokens, as their SHA-256: a backend issues one, the app delivers it
-- to the user by its own channel, and it sets a new password once, before it expires.
CREATE TABLE password_reset_tokens (
    hash          BYTEA PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES app_users (id) ON DELETE CASCADE,
    expires_at_ms BIGINT NOT NULL,
    used_at_ms    BIGINT
);
CREATE INDEX password_reset_tokens_expires ON password_reset_tokens (expires_at_ms);
