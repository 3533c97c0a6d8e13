"""One benchmark run (started by scripts/bench/run): every figure of docs/development/benchmarks.md's Benchmarks
section, on SQLite and on a fresh PostgreSQL database, written to target/bench/."""
import contextlib
import pathlib
import shutil
import signal
import subprocess
import sys
import time
import tempfile

import audit
import phases
import pinning
import probes
import report
from services import LOGS, Deployment, fresh_database, make_certificate, psql, start_bare
from settings import Settings


def section(title: str) -> None:
    print(f"\n== {title}", file=sys.stderr)


def run(s: Settings, work: pathlib.Path, stack: contextlib.ExitStack, results: dict) -> None:
    """Measures everything into `results`, phase by phase; in the cores mode, the token
    endpoints once per server core count instead."""
    certificate = make_certificate(work)
    if s.cores:
        results["cores"] = by_cores(s, work, certificate)
        return

    def started(callsign):
        stack.callback(callsign.server.stop)
        return callsign

    # First, while nothing else of ours runs.
    if "cold" in s.phases:
        section("cold start to ready (SQLite)")
        results["coldStart"] = probes.cold_start(work)

    database = stack.enter_context(fresh_database(s.admin_pg)) if "postgres" in s.stores else None
    deployments = {store: Deployment(store, work, database if store == "postgres" else None)
                   for store in s.stores}
    plain = {store: started(deployment.start()) for store, deployment in deployments.items()}

    if "tokens" in s.phases:
        token_endpoints(s, work, certificate, deployments, plain, results)
    if "create" in s.phases:
        if "tokens" in s.phases:
            settle()
        section("create identity")
        results["createIdentity"] = phases.create_identity(s, plain, database)
    if "refresh" in s.phases:
        section("refresh-token rotation")
        phases.create_accounts(s, plain)
        results["refresh"] = phases.refresh_rotation(s, plain, database, work)
    if "signin" in s.phases:
        section("sign-in")
        results["signIn"] = phases.sign_in(s, plain)
    if database and "propagation" in s.phases:
        section("revocation propagation between two instances (PostgreSQL)")
        results["propagation"] = probes.propagation(deployments["postgres"])
    if "audit" in s.phases:
        section("the audit trail: bytes per token, retention with a backlog")
        backlog = audit.backlog(s)
        results["audit"] = {"bytesPerToken": audit.bytes_per_token(s, plain, database)}
        # Last: the instances above would otherwise race the fresh ones' purge.
        for callsign in plain.values():
            callsign.server.stop()
        results["audit"]["retention"] = audit.retention(s, deployments, database, backlog)


# Issuing leaves writes for later: `lastTokenIssuedAt` for every identity issued to, written at
# the next resynchronisation (every 5 s by default). A phase after it waits for them, so that it
# measures its own requests and not the flush of ten thousand identities' times.
SETTLE_SECONDS = 6


def settle() -> None:
    print(f"  (waiting {SETTLE_SECONDS} s for the writes issuing left for later)", file=sys.stderr)
    time.sleep(SETTLE_SECONDS)


def token_endpoints(s: Settings, work: pathlib.Path, certificate, deployments, plain, results) -> None:
    section("token endpoints against the bare JWT route")
    # These servers are needed for this phase only. TLS costs the same whatever the store, so
    # it is measured on the first store only, which keeps a full run near 15 minutes.
    with contextlib.ExitStack() as token_phase:
        bare = {}
        for tls in s.tls_modes:
            bare[tls] = start_bare(work, certificate if tls else None)
            token_phase.callback(bare[tls].stop)
        callsigns = {(store, False): callsign for store, callsign in plain.items()}
        if True in s.tls_modes:
            store = s.stores[0]
            callsigns[store, True] = deployments[store].start(certificate)
            token_phase.callback(callsigns[store, True].server.stop)
        results["tokens"], results["peakRss"] = phases.token_endpoints(s, bare, callsigns)


def by_cores(s: Settings, work: pathlib.Path, certificate) -> list[dict]:
    """The token endpoints with the servers (Callsign on each store, the bare route) pinned to
    1, 2, 4, 8… cores and wrk to eight others."""
    rows = []
    for cores in s.cores:
        section(f"token endpoints, servers on {cores} core(s), wrk on {pinning.WRK_CORES} others")
        pinning.pin(cores)
        # Servers stop before their database is dropped.
        with contextlib.ExitStack() as databases, contextlib.ExitStack() as stack:
            database = (databases.enter_context(fresh_database(s.admin_pg))
                        if "postgres" in s.stores else None)
            deployments = {store: Deployment(store, work, database if store == "postgres" else None)
                           for store in s.stores}
            plain = {}
            for store, deployment in deployments.items():
                plain[store] = deployment.start()
                stack.callback(plain[store].server.stop)
            tokens = {}
            token_endpoints(s, work, certificate, deployments, plain, tokens)
        rows.append({"cores": cores, "tokens": tokens["tokens"], "peakRss": tokens["peakRss"]})
    pinning.pin(None)
    return rows


def main() -> None:
    # Stop what was started, and drop the database, on Ctrl-C or SIGTERM too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    s = Settings.from_env()
    if "postgres" in s.stores:
        try:
            psql(s.admin_pg, "SELECT 1")
        except subprocess.CalledProcessError as error:
            sys.exit(f"PostgreSQL at BENCH_PG={s.admin_pg} is not usable ({error.stderr.strip()});"
                     " set BENCH_PG, or BENCH_STORES=sqlite to leave it out")
    minutes = s.timed_runs() * (s.seconds + 0.5) / 60
    print(f"callsign bench: {s.timed_runs()} load runs of {s.duration} (about {minutes:.0f} min"
          f" and the set-up) on {', '.join(s.stores)}", file=sys.stderr)
    shutil.rmtree(LOGS, ignore_errors=True)
    LOGS.mkdir(parents=True)
    results = report.header() | {"settings": s.describe()}
    try:
        with tempfile.TemporaryDirectory(prefix="callsign-bench-") as work, contextlib.ExitStack() as stack:
            run(s, pathlib.Path(work), stack, results)
    except BaseException as error:
        # Keep what was measured before the failure.
        results["incomplete"] = f"{type(error).__name__}: {error}"
        results["serverLog"] = report.server_warnings()
        report.write_json(results)
        print(f"incomplete results: {report.OUT / 'results.json'}", file=sys.stderr)
        raise
    results["serverLog"] = report.server_warnings()
    as_json, as_md = report.write(results)
    print(as_md.read_text())
    print(f"written: {as_json.relative_to(report.ROOT)}, {as_md.relative_to(report.ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
