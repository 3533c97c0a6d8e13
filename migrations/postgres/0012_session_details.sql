-- What a user sees of its sessions: where each started (client address and user agent, as
-- given) and when it was last refreshed.
ALTER TABLE refresh_families ADD COLUMN client_address TEXT;
ALTER TABLE refresh_families ADD COLUMN user_agent TEXT;
ALTER TABLE refresh_families ADD COLUMN last_refreshed_at_ms BIGINT;
