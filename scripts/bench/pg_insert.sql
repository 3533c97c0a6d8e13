-- pgbench: one single-row INSERT a transaction, the floor for creating an identity.
INSERT INTO bench_insert (id, name) VALUES (gen_random_uuid(), 'bench');
