"""The load phases: each measures Callsign against its floor (the bare JWT route, or pgbench on the
same PostgreSQL), interleaved round by round because the machine is noisy, and returns rows for
the report."""
import collections
import concurrent.futures
import json
import pathlib
import sys
import threading

from client import API_VERSION, PASSWORD, Client, issue_path
from load import HERE, Run, database_clients, pgbench, signed_env, summary
from services import Callsign, Server, psql
from settings import Settings
from sign import signed_headers

# Callsign throttles a client address with 20 sign-ins in flight (an attempt counts as failed
# until it succeeds), so sign-in is measured below that, whatever the other phases use.
SIGN_IN_CONNECTIONS = 16
ISSUE_BODY = json.dumps({"scopes": ["chat", "voip"]}, separators=(",", ":"))
CREATE_PATH = f"/identities?{API_VERSION}"


def progress(label: str, run: Run) -> None:
    failed = f"  {run.failed} failed" if run.failed else ""
    print(f"    {label:<50} {run.rps:>9.0f} /s  p99 {run.p99_ms:8.2f} ms{failed}", file=sys.stderr)


def fixed(s: Settings, label: str, base: str, path: str, connections: int, body: str,
          signer: Callsign | None = None) -> Run:
    """wrk sending one request (signed afresh for this run when `signer` is given)."""
    headers = signed_headers(signer.key, signer.host, "POST", path, body) if signer else None
    run = s.wrk.run(base + path, connections, "request.lua", signed_env(body, headers))
    progress(label, run)
    return run


def tls_name(tls: bool) -> str:
    return "TLS" if tls else "plain"


# Issuing is measured for one identity and spread over each of these many, side by side: what
# is kept per identity (the issue log, the known-identity cache, the rate limit, the audit
# trail's identity index) must not serialise.
MANY_IDENTITIES = (256, 10_000)


def spread(s: Settings, label: str, callsign: Callsign, paths: list[str], connections: int) -> Run:
    """wrk sending `:issueAccessToken` for each of `paths` in turn, every one signed afresh."""
    lines = []
    for path in paths:
        headers = signed_headers(callsign.key, callsign.host, "POST", path, ISSUE_BODY)
        lines.append("\t".join([path, headers["Authorization"], headers["x-ms-date"],
                                 headers["x-ms-content-sha256"]]))
    requests = pathlib.Path(HERE.parent.parent / "target" / "bench" / "many-requests.tsv")
    requests.parent.mkdir(parents=True, exist_ok=True)
    requests.write_text("\n".join(lines) + "\n")
    run = s.wrk.run(callsign.base + paths[0], connections, "many.lua",
                    {"BENCH_BODY": ISSUE_BODY, "BENCH_REQUESTS": str(requests)})
    progress(label, run)
    return run


def token_endpoints(s: Settings, bare: dict[bool, Server], callsigns: dict[tuple[str, bool], Callsign]):
    """`:issueAccessToken` (for one identity, and spread over each of MANY_IDENTITIES) against the bare
    sign route and `/tokens/:introspect` against the bare verify route, per connections, TLS and
    the stores `callsigns` has for it; and each instance's peak RSS during the issue runs at the
    most connections. Returns (rows, peak RSS rows)."""
    targets, many = {}, {}
    for key, callsign in callsigns.items():
        client = callsign.client()
        identity = client.create_identity()
        targets[key] = (issue_path(identity), json.dumps({"token": client.issue_token(identity)}))
        client.close()
        identities = in_parallel(callsign, lambda client, _: client.create_identity(),
                                 list(range(max(MANY_IDENTITIES))))
        many[key] = [issue_path(identity) for identity in identities]
    bare_verify = {}
    for tls, server in bare.items():
        client = Client(server.base, "", cafile=None)
        token = client.expect(200, "POST", "/sign", {"scopes": ["chat", "voip"]}, signed=False)["token"]
        bare_verify[tls] = json.dumps({"token": token})
        client.close()

    def stores(tls: bool) -> list[str]:
        return [store for store in s.stores if (store, tls) in callsigns]

    runs, peaks = collections.defaultdict(list), collections.defaultdict(list)
    for round_ in range(1, s.rounds + 1):
        for tls in s.tls_modes:
            for conns in s.connections:
                print(f"  round {round_}/{s.rounds}, {tls_name(tls)}, {conns} connections", file=sys.stderr)
                runs["sign", tls, conns].append(
                    fixed(s, "bare: sign", bare[tls].base, "/sign", conns, ISSUE_BODY))
                for store in stores(tls):
                    callsign = callsigns[store, tls]
                    if conns == s.most_connections:
                        callsign.server.reset_peak_rss()
                    runs["issueAccessToken", store, tls, conns].append(fixed(
                        s, f"callsign ({store}): issueAccessToken", callsign.base,
                        targets[store, tls][0], conns, ISSUE_BODY, callsign))
                    if conns == s.most_connections:
                        peaks[store, tls].append(callsign.server.peak_rss_kib())
                    for count in MANY_IDENTITIES:
                        runs[f"issue{count}", store, tls, conns].append(spread(
                            s, f"callsign ({store}): issue, {count} identities", callsign,
                            many[store, tls][:count], conns))
                runs["verify", tls, conns].append(
                    fixed(s, "bare: verify", bare[tls].base, "/verify", conns, bare_verify[tls]))
                for store in stores(tls):
                    callsign = callsigns[store, tls]
                    runs["introspect", store, tls, conns].append(fixed(
                        s, f"callsign ({store}): introspect", callsign.base, "/tokens/:introspect",
                        conns, targets[store, tls][1], callsign))

    rows = []
    for tls in s.tls_modes:
        for conns in s.connections:
            variants = [("issueAccessToken", 1, "sign")]
            variants += [("issueMany", count, "sign") for count in MANY_IDENTITIES]
            variants += [("introspect", 1, "verify")]
            for endpoint, count, floor in variants:
                baseline = summary(runs[floor, tls, conns])
                for store in stores(tls):
                    key = f"issue{count}" if endpoint == "issueMany" else endpoint
                    measured = summary(runs[key, store, tls, conns])
                    row = {"endpoint": endpoint, "identities": count, "store": store, "tls": tls,
                           "connections": conns, "callsign": measured, "bare": baseline,
                           "ratio": round(measured["rps"] / baseline["rps"], 3)}
                    if endpoint == "issueMany":
                        one = summary(runs["issueAccessToken", store, tls, conns])
                        row["vsOneIdentity"] = round(measured["rps"] / one["rps"], 3)
                    rows.append(row)
    peak_rows = [{"store": store, "tls": tls, "connections": s.most_connections,
                  "peakRssKiB": max(peaks[store, tls])} for store, tls in callsigns]
    return rows, peak_rows


def in_parallel(callsign: Callsign, work, items: list) -> list:
    """`work(client, item)` for every item, eight at a time, each thread with its own connection."""
    local, clients = threading.local(), []

    def one(item):
        if not hasattr(local, "client"):
            local.client = callsign.client()
            clients.append(local.client)
        return work(local.client, item)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, items))
    for client in clients:
        client.close()
    return results


def usernames(count: int) -> list[str]:
    return [f"bench-{i}" for i in range(count)]


def create_accounts(s: Settings, callsigns: dict[str, Callsign]) -> None:
    """Built-in accounts bench-0 … for the refresh and sign-in phases (argon2id, so in parallel)."""
    count = sessions_needed(s, max(s.most_connections, SIGN_IN_CONNECTIONS))
    for callsign in callsigns.values():
        in_parallel(callsign, Client.create_account, usernames(count))


def floor_rows(s: Settings, runs, pg_runs, clients: dict[int, int]) -> list[dict]:
    rows = []
    for conns in s.connections:
        floor = summary(pg_runs[conns]) if pg_runs else None
        for store in s.stores:
            measured = summary(runs[store, conns])
            row = {"store": store, "connections": conns, "callsign": measured}
            # Callsign on PostgreSQL against pgbench on the same server; SQLite has no such floor.
            if floor and store == "postgres":
                row |= {"pgbench": floor | {"clients": clients[conns]}, "ratio": round(measured["rps"] / floor["rps"], 3)}
            rows.append(row)
    return rows


def create_identity(s: Settings, callsigns: dict[str, Callsign], database: str | None) -> list[dict]:
    """Signed POST /identities (every request creates an identity) on each store, against
    pgbench's single-row INSERT on the same PostgreSQL at the same concurrency."""
    if database:
        psql(database, "CREATE TABLE bench_insert (id uuid PRIMARY KEY, name text NOT NULL)")
    runs, pg_runs, clients = collections.defaultdict(list), collections.defaultdict(list), {}
    for round_ in range(1, s.rounds + 1):
        for conns in s.connections:
            print(f"  round {round_}/{s.rounds}, {conns} connections", file=sys.stderr)
            for store, callsign in callsigns.items():
                runs[store, conns].append(fixed(s, f"callsign ({store}): create identity",
                                                callsign.base, CREATE_PATH, conns, "{}", callsign))
            if database:
                clients[conns] = database_clients(database, conns)
                run = pgbench(database, clients[conns], s.seconds, HERE / "pg_insert.sql")
                progress(f"pgbench: INSERT, {clients[conns]} clients", run)
                pg_runs[conns].append(run)
    return floor_rows(s, runs, pg_runs, clients)


def refresh_rotation(s: Settings, callsigns: dict[str, Callsign], database: str | None,
                     work: pathlib.Path) -> list[dict]:
    """POST /v1/sessions/refresh, each connection rotating its own session's token (refresh.lua),
    against pgbench's single-row UPDATE on the same PostgreSQL at the same concurrency. Every run
    starts from fresh sessions: the tokens in flight when wrk stops are spent."""
    if database:
        psql(database, "CREATE TABLE bench_update (id int PRIMARY KEY, token text NOT NULL);"
                       f"INSERT INTO bench_update SELECT i, '' FROM generate_series(0, {s.most_connections}) i")
    runs, pg_runs, clients = collections.defaultdict(list), collections.defaultdict(list), {}
    for round_ in range(1, s.rounds + 1):
        for conns in s.connections:
            print(f"  round {round_}/{s.rounds}, {conns} connections", file=sys.stderr)
            for store, callsign in callsigns.items():
                tokens = in_parallel(callsign, Client.sign_in, usernames(sessions_needed(s, conns)))
                file = work / f"refresh-{store}.tokens"
                file.write_text("\n".join(tokens) + "\n")
                run = s.wrk.run(callsign.base + "/v1/sessions/refresh", conns, "refresh.lua",
                                {"BENCH_TOKENS": str(file)})
                progress(f"callsign ({store}): refresh", run)
                runs[store, conns].append(run)
            if database:
                clients[conns] = database_clients(database, conns)
                run = pgbench(database, clients[conns], s.seconds, HERE / "pg_update.sql")
                progress(f"pgbench: UPDATE, {clients[conns]} clients", run)
                pg_runs[conns].append(run)
    return floor_rows(s, runs, pg_runs, clients)


def sessions_needed(s: Settings, connections: int) -> int:
    # One session a connection, and two spare a wrk thread: wrk checks its script by making one
    # request on the first thread before the run, which spends a token.
    return connections + 2 * s.threads


def sign_in(s: Settings, callsigns: dict[str, Callsign]) -> list[dict]:
    """POST /v1/sessions (argon2id) at 16 connections, spread over the accounts (sign_in.lua);
    deliberately slow, reported alone."""
    conns = SIGN_IN_CONNECTIONS
    env = {"BENCH_ACCOUNTS": str(sessions_needed(s, conns)), "BENCH_PASSWORD": PASSWORD}
    runs = collections.defaultdict(list)
    for round_ in range(1, s.rounds + 1):
        print(f"  round {round_}/{s.rounds}, {conns} connections", file=sys.stderr)
        for store, callsign in callsigns.items():
            run = s.wrk.run(callsign.base + "/v1/sessions", conns, "sign_in.lua", env)
            progress(f"callsign ({store}): sign in", run)
            runs[store].append(run)
    return [{"store": store, "connections": conns, "callsign": summary(runs[store])}
            for store in callsigns]
