-- The transactional outbox: changes others must hear of, written with the change itself and
-- taken out by the post-commit dispatcher.
CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event TEXT NOT NULL
);
