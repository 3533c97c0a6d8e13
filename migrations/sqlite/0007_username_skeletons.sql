-- Usernames are compared by their Unicode skeleton (UTS #39), so names that only look alike
-- (Cyrillic "асе" and Latin "ace") are one name: the skeleton is unique. Accounts created before
-- have none; the service fills it in (an account whose skeleton another has keeps none, and
-- still signs in by its exact name).
ALTER TABLE app_users ADD COLUMN username_skeleton TEXT;
CREATE UNIQUE INDEX app_users_username_skeleton ON app_users (username_skeleton)
    WHERE username_skeleton IS NOT NULL;
