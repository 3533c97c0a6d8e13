-- Signing keys apart from access keys, with states: valid (one per slot: it signs), retained
-- (rotated out: verifies until retained_until_ms) or revoked (its tokens are dead). Existing
-- pairs keep their kid, so tokens already issued keep verifying.
CREATE TABLE signing_keys (
    kid               TEXT PRIMARY KEY,
    slot              TEXT NOT NULL CHECK (slot IN ('primary', 'secondary')),
    key_sealed        BLOB NOT NULL,
    created_at_ms     BIGINT NOT NULL,
    retained_until_ms BIGINT,
    revoked_at_ms     BIGINT
);
CREATE UNIQUE INDEX signing_keys_one_valid_per_slot ON signing_keys (slot)
    WHERE retained_until_ms IS NULL AND revoked_at_ms IS NULL;

INSERT INTO signing_keys (kid, slot, key_sealed, created_at_ms, revoked_at_ms)
    SELECT kid, slot, signing_key_sealed, created_at_ms, revoked_at_ms FROM keys;

ALTER TABLE keys DROP COLUMN signing_key_sealed;
ALTER TABLE keys RENAME TO access_keys;
DROP INDEX keys_one_active_per_slot;
CREATE UNIQUE INDEX access_keys_one_active_per_slot ON access_keys (slot) WHERE revoked_at_ms IS NULL;
