"""Measurements that are not throughput: cold start to ready, and revocation propagation between
two instances on PostgreSQL."""
import contextlib
import os
import pathlib
import statistics
import sys
import time

from services import CALLSIGN, FOREIGN, LOGS, Callsign, Deployment, Server, free_port


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[round((len(ordered) - 1) * p)]


def cold_start(work: pathlib.Path, samples: int = 5) -> dict:
    """Milliseconds from exec to the first 200 of /readyz on SQLite, with the default settings
    (HTTPS with a generated certificate): on an empty data directory (a first start, which
    generates the master key, access keys and certificate and migrates) and on the directory it
    left (a restart). Median of `samples` each."""
    first, restart = [], []
    for sample in range(samples):
        data_dir = work / f"cold-start-{sample}"
        data_dir.mkdir()
        for into in (first, restart):
            port = free_port()
            env = {name: value for name, value in os.environ.items() if not name.startswith(FOREIGN)}
            env |= {"RUST_LOG": "warn", "CALLSIGN_LISTEN": f"127.0.0.1:{port}", "CALLSIGN_DATA_DIR": str(data_dir)}
            server = Server("callsign (cold start)", [str(CALLSIGN), "serve"], env, port, True,
                            LOGS / "callsign-cold-start.log")
            try:
                into.append(server.wait("/readyz", 200, poll=0.002) * 1000)
            finally:
                server.stop()
    print(f"    first start {statistics.median(first):.0f} ms, restart {statistics.median(restart):.0f} ms "
          f"(median of {samples})", file=sys.stderr)
    return {"samples": samples, "firstStartMs": statistics.median(first),
            "restartMs": statistics.median(restart), "firstStartRunsMs": first, "restartRunsMs": restart}


def started(stack: contextlib.ExitStack, deployment: Deployment) -> Callsign:
    callsign = deployment.start()
    stack.callback(callsign.server.stop)
    return callsign


def propagation(deployment: Deployment, samples: int = 100) -> dict:
    """Instance A revokes an identity's tokens; instance B, on the same database, is asked by
    introspection until the token is inactive. Milliseconds from the revoke's return on A (it
    returns after its 20 ms commit wait) to the first inactive answer on B. Both instances are
    started for this, so nothing of the load phases is left in them."""
    delays, revokes = [], []
    with contextlib.ExitStack() as stack:
        on_a = started(stack, deployment).client()
        on_b = started(stack, deployment).client()
        for sample in range(samples):
            identity = on_a.create_identity()
            token = on_a.issue_token(identity)
            if not on_b.is_active(token):
                raise RuntimeError(f"sample {sample}: the token is not active on B before the revoke")
            started_at = time.perf_counter()
            on_a.revoke(identity)
            returned = time.perf_counter()
            while on_b.is_active(token):
                if time.perf_counter() - returned > 5:
                    raise RuntimeError(f"sample {sample}: still active on B 5 s after the revoke")
                time.sleep(0.0005)
            delays.append((time.perf_counter() - returned) * 1000)
            revokes.append((returned - started_at) * 1000)
    result = {"samples": samples, "p50Ms": percentile(delays, 0.5), "p99Ms": percentile(delays, 0.99),
              "maxMs": max(delays), "revokeCallP50Ms": percentile(revokes, 0.5)}
    print(f"    p50 {result['p50Ms']:.1f} ms, p99 {result['p99Ms']:.1f} ms, max {result['maxMs']:.1f} ms "
          f"over {samples} revocations", file=sys.stderr)
    return result
