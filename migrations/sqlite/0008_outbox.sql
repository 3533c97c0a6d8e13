-- The transactional outbox: changes others must hear of, written with the change itself and
-- taken out by the post-commit dispatcher.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL
);
