-- Callsign schema, PostgreSQL. Times are unix milliseconds (BIGINT), the same on both backends.

-- Deployment-wide settings fixed at first start (e.g. the resource id in every identity id).
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE identities (
    id                      UUID PRIMARY KEY,
    external_id             TEXT UNIQUE,
    created_at_ms           BIGINT NOT NULL,
    last_token_issued_at_ms BIGINT,
    -- Tokens issued at or before this instant are revoked (NULL: never revoked).
    tokens_revoked_before_ms BIGINT
);
CREATE INDEX identities_tokens_revoked_before ON identities (tokens_revoked_before_ms)
    WHERE tokens_revoked_before_ms IS NOT NULL;

-- Deleted identities, kept until every token they could have had has expired.
CREATE TABLE identity_tombstones (
    id            UUID PRIMARY KEY,
    deleted_at_ms BIGINT NOT NULL
);
CREATE INDEX identity_tombstones_deleted_at ON identity_tombstones (deleted_at_ms);

-- Access keys and their paired token-signing keys, sealed (AES-256-GCM) with the master key.
CREATE TABLE keys (
    kid                TEXT PRIMARY KEY,
    slot               TEXT NOT NULL CHECK (slot IN ('primary', 'secondary')),
    access_key_sealed  BYTEA NOT NULL,
    signing_key_sealed BYTEA NOT NULL,
    created_at_ms      BIGINT NOT NULL,
    revoked_at_ms      BIGINT
);
CREATE UNIQUE INDEX keys_one_active_per_slot ON keys (slot) WHERE revoked_at_ms IS NULL;
