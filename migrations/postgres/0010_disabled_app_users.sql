-- App users an operator has disabled: they cannot sign in or be issued tokens until enabled.
ALTER TABLE app_users ADD COLUMN disabled_at_ms BIGINT;
