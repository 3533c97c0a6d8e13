-- Shared Signals: the keys that sign security event tokens, the event streams receivers
-- create, the subjects removed from a stream, and the events queued for each stream.

-- Asymmetric keys (RS256 or ES256), PKCS#8 sealed with the master key. One is valid (it signs);
-- a rotated-out key is retained until retained_until_ms, published in the JWKS all along.
CREATE TABLE event_signing_keys (
    kid               TEXT PRIMARY KEY,
    algorithm         TEXT NOT NULL,
    key_sealed        BLOB NOT NULL,
    created_at_ms     BIGINT NOT NULL,
    retained_until_ms BIGINT
);

CREATE TABLE event_streams (
    id                   TEXT PRIMARY KEY,
    -- Who created it (an access key, or a backend bearer's client): only it sees the stream.
    owner                TEXT NOT NULL,
    -- The receiver-supplied configuration, as JSON (its authorization header apart, sealed).
    config               TEXT NOT NULL,
    authorization_sealed BLOB,
    -- 'push' or 'poll'.
    method               TEXT NOT NULL,
    -- The event types delivered, space-separated.
    events_delivered     TEXT NOT NULL,
    status               TEXT NOT NULL,
    reason               TEXT,
    created_at_ms        BIGINT NOT NULL,
    updated_at_ms        BIGINT NOT NULL,
    -- Since when deliveries have failed without a success in between.
    failing_since_ms     BIGINT
);
CREATE INDEX event_streams_owner ON event_streams (owner);

-- A stream carries every subject (default_subjects ALL) but those its receiver removed.
CREATE TABLE event_stream_exclusions (
    stream_id   TEXT NOT NULL,
    -- The subject as events name it (e.g. identity:<uuid>), and as the receiver gave it.
    subject_key TEXT NOT NULL,
    subject     TEXT NOT NULL,
    PRIMARY KEY (stream_id, subject_key)
);

CREATE TABLE stream_events (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id          TEXT NOT NULL,
    jti                TEXT NOT NULL,
    -- The event, as the signals module encodes it; the SET is signed when it is sent.
    signal             TEXT NOT NULL,
    created_at_ms      BIGINT NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms BIGINT NOT NULL,
    -- A push delivery in progress, by some instance, until then.
    claimed_until_ms   BIGINT
);
CREATE INDEX stream_events_by_stream ON stream_events (stream_id, id);
CREATE UNIQUE INDEX stream_events_jti ON stream_events (jti);
