-- (SQLite: UUIDs as hyphenated text, as in 0001.)
-- App users: the people of client apps, signed in with a built-in account (username and an
-- argon2id hash) or by the app's OpenID Connect provider (issuer and subject).
CREATE TABLE app_users (
    id            TEXT PRIMARY KEY,
    username      TEXT UNIQUE,
    password_hash TEXT,
    oidc_issuer   TEXT,
    oidc_subject  TEXT,
    created_at_ms BIGINT NOT NULL,
    CHECK ((username IS NULL) = (password_hash IS NULL)),
    CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL)),
    CHECK (username IS NOT NULL OR oidc_issuer IS NOT NULL),
    UNIQUE (oidc_issuer, oidc_subject)
);

-- Which communication identities each app user holds: 1:1, 1:N, N:1 and N:M.
CREATE TABLE app_user_identities (
    user_id      TEXT NOT NULL REFERENCES app_users (id) ON DELETE CASCADE,
    identity_id  TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    linked_at_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, identity_id)
);
CREATE INDEX app_user_identities_identity ON app_user_identities (identity_id);

-- One refresh-token family per sign-in; reusing a spent token revokes the family.
CREATE TABLE refresh_families (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES app_users (id) ON DELETE CASCADE,
    identity_id   TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);
CREATE INDEX refresh_families_identity ON refresh_families (identity_id);

-- Refresh tokens, known only by their SHA-256: the token itself is never stored.
CREATE TABLE refresh_tokens (
    hash         BLOB PRIMARY KEY,
    family_id    TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    issued_at_ms BIGINT NOT NULL,
    spent_at_ms  BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
