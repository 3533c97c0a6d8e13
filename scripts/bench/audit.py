"""The audit trail's cost: bytes per audited token on each store, and retention with a large
backlog past it (how long the purge takes, and issuing's throughput and p99 while it runs
against the same afterwards)."""
import os
import pathlib
import re
import sqlite3
import sys
import time

from phases import MANY_IDENTITIES, in_parallel, progress, spread
from client import issue_path
from services import Callsign, Deployment, psql
from settings import Settings

DAY_MS = 86_400_000
# What a token's audit row holds besides its identity and time, as Callsign writes it.
TOKEN_DETAILS = '{"scopes":["chat","voip"],"expiresInMinutes":1440}'
PG_TRAIL_BYTES = ("SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits "
                  "WHERE inhparent = 'audit_events'::regclass")
# Only the purge's log line, not the access log.
PURGE_LOG = {"RUST_LOG": "warn,callsign::startup::serve=info"}


def sqlite_path(callsign: Callsign) -> pathlib.Path:
    return callsign.data_dir / "callsign.db"


def trail(callsign: Callsign, database: str | None) -> tuple[int, int]:
    """(bytes, rows) of the audit trail: its tables and indexes."""
    if callsign.store == "postgres":
        size = int(psql(database, PG_TRAIL_BYTES))
        rows = int(psql(database, "SELECT count(*) FROM audit_events"))
        return size, rows
    with sqlite3.connect(f"file:{sqlite_path(callsign)}?mode=ro", uri=True) as db:
        size = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name = 'audit_events' "
                          "OR name LIKE 'audit_events_%'").fetchone()[0]
        rows = db.execute("SELECT count(*) FROM audit_events").fetchone()[0]
    return int(size), int(rows)


def settled(callsign: Callsign, database: str | None) -> tuple[int, int]:
    """The trail once the writer has flushed what it queued (the row count stops moving)."""
    last = trail(callsign, database)
    while True:
        time.sleep(0.5)
        now = trail(callsign, database)
        if now[1] == last[1]:
            return now
        last = now


def bytes_per_token(s: Settings, callsigns: dict[str, Callsign], database: str | None) -> list[dict]:
    rows = []
    for store, callsign in callsigns.items():
        paths = [issue_path(identity) for identity in in_parallel(
            callsign, lambda client, _: client.create_identity(), list(range(MANY_IDENTITIES[0])))]
        before_bytes, before_rows = settled(callsign, database)
        run = spread(s, f"callsign ({store}): issue, audit size", callsign, paths, s.most_connections)
        after_bytes, after_rows = settled(callsign, database)
        tokens = after_rows - before_rows
        rows.append({"store": store, "tokens": tokens, "bytes": after_bytes - before_bytes,
                     "bytesPerToken": round((after_bytes - before_bytes) / max(tokens, 1), 1),
                     "issue": run.as_json()})
        print(f"    {store}: {tokens} tokens, {rows[-1]['bytesPerToken']} bytes each", file=sys.stderr)
    return rows


def fill_sqlite(path: pathlib.Path, rows: int, at_ms: int) -> None:
    """`rows` tokens long past, indexed by identity as the writer's rounds would have indexed
    them (the index's mark moved past them), so the instance starts with an index in step."""
    with sqlite3.connect(path) as db:
        db.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO audit_events (at_ms, action, actor, identity_id, details, request_id) "
            "SELECT ? + i % 3600000, 'token.issued', 'accessKey:primary', "
            "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) "
            "|| '-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))), ?, 'bench-' || i FROM n",
            (rows, at_ms, TOKEN_DETAILS))
        db.execute(
            "INSERT INTO audit_identity_events (identity_id, event_id) "
            "SELECT identity_id, id FROM audit_events WHERE identity_id IS NOT NULL "
            "AND id > (SELECT up_to FROM audit_identity_mark) ORDER BY identity_id, id")
        db.execute(
            "UPDATE audit_identity_mark SET up_to = last, round_to = last, next_identity = '', "
            "next_event = 0 FROM (SELECT max(id) AS last FROM audit_events)")


def fill_postgres(database: str, rows: int, at_ms: int) -> None:
    """A day long past as a partition of its own, `rows` tokens in it; the rows from before
    partitioning go, so every day is a partition as in a deployment a retention period old."""
    day = at_ms // DAY_MS * DAY_MS
    today = int(time.time() * 1000) // DAY_MS * DAY_MS
    psql(database, "ALTER TABLE audit_events DETACH PARTITION audit_events_before_partitions")
    psql(database, "DROP TABLE audit_events_before_partitions")
    # Named as Callsign names a day's partition, which is how its retention knows them.
    for start in (today, day):
        name = time.strftime("audit_events_%Y_%m_%d", time.gmtime(start // 1000))
        psql(database, f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF audit_events "
                       f"FOR VALUES FROM ({start}) TO ({start + DAY_MS})")
    psql(database,
         "INSERT INTO audit_events (at_ms, action, actor, identity_id, details, request_id) "
         f"SELECT {at_ms} + g % 3600000, 'token.issued', 'accessKey:primary', gen_random_uuid(), "
         f"'{TOKEN_DETAILS}', 'bench-' || g FROM generate_series(1, {rows}) g")
    psql(database, "VACUUM ANALYZE audit_events")


def purge_time_ms(log: pathlib.Path, timeout: float = 600) -> int:
    """The purge's own account of how long it took, from the instance's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"elapsed_ms=(\d+).*purged audit events|purged audit events.*elapsed_ms=(\d+)",
                          log.read_text(errors="replace"))
        if found:
            return int(found[1] or found[2])
        time.sleep(0.2)
    raise RuntimeError(f"no purge in {log} within {timeout} s")


def retention(s: Settings, deployments: dict[str, Deployment], database: str | None,
              backlog: int) -> list[dict]:
    """A fresh instance on a store with `backlog` tokens past retention: issuing while its
    first upkeep purges them, then issuing again once it is done."""
    rows = []
    past_ms = int(time.time() * 1000) - 500 * DAY_MS
    for store, deployment in deployments.items():
        seed = deployment.start()
        paths = [issue_path(identity) for identity in in_parallel(
            seed, lambda client, _: client.create_identity(), list(range(MANY_IDENTITIES[0])))]
        seed.server.stop()
        started = time.monotonic()
        if store == "postgres":
            fill_postgres(database, backlog, past_ms)
        else:
            fill_sqlite(sqlite_path(seed), backlog, past_ms)
        print(f"    {store}: {backlog} tokens past retention written in "
              f"{time.monotonic() - started:.0f} s", file=sys.stderr)
        callsign = deployment.start(data_dir=seed.data_dir, env=PURGE_LOG)
        during = spread(s, f"callsign ({store}): issue while purging", callsign, paths, s.most_connections)
        # SQLite's purge rests between its deletes: ten million rows take minutes.
        purge_ms = purge_time_ms(callsign.server.log, timeout=max(600, backlog / 5_000))
        after = spread(s, f"callsign ({store}): issue after the purge", callsign, paths, s.most_connections)
        callsign.server.stop()
        rows.append({"store": store, "backlog": backlog, "purgeMs": purge_ms,
                     "during": during.as_json(), "after": after.as_json()})
        print(f"    {store}: purge took {purge_ms} ms", file=sys.stderr)
    return rows


def backlog(s: Settings) -> int:
    """Rows past retention for the retention run: BENCH_AUDIT_BACKLOG, default ten million (one
    million in a quick run)."""
    default = 1_000_000 if s.quick else 10_000_000
    return int(os.environ.get("BENCH_AUDIT_BACKLOG", default))
