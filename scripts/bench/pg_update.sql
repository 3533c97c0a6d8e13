-- pgbench: one single-row UPDATE a transaction, each client on a row of its own, the floor for
-- rotating a refresh token.
UPDATE bench_update SET token = md5(random()::text) WHERE id = :client_id;
