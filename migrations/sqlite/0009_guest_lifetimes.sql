-- Guest identities: when their last token expires (pushed by every token they are issued), so
-- they can be deleted once it has.
ALTER TABLE identities ADD COLUMN guest_until_ms BIGINT;
CREATE INDEX identities_guest_until ON identities (guest_until_ms) WHERE guest_until_ms IS NOT NULL;
