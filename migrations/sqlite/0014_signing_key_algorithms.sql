-- Token-signing keys of an asymmetric algorithm (ES256, RS256; CALLSIGN_TOKEN_ALGORITHM) keep
-- their PKCS#8 where an HS256 key keeps its secret; each key remembers its algorithm.
ALTER TABLE signing_keys ADD COLUMN algorithm TEXT NOT NULL DEFAULT 'HS256';
