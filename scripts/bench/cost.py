"""Server CPU time per request: Callsign (SQLite, plain HTTP, release build) and the bare route,
each driven by wrk in turn, with the server's user and system time read from /proc before and
after (started by scripts/bench/cost). Less noisy than throughput on a shared machine, since it
does not count wrk's own CPU."""
import json
import pathlib
import sys
import tempfile

from client import Client, issue_path
from load import signed_env
from phases import ISSUE_BODY
from services import LOGS, Deployment, Server, start_bare, stat_cpu_seconds
from settings import Settings
from sign import signed_headers

def cpu_seconds(server: Server) -> float:
    return stat_cpu_seconds(pathlib.Path(f"/proc/{server.process.pid}/stat").read_text())


def measure(s: Settings, server: Server, url: str, connections: int, body: str,
            headers: dict | None) -> tuple[float, float]:
    """(requests per second, server CPU µs per request) of one wrk run."""
    before = cpu_seconds(server)
    run = s.wrk.run(url, connections, "request.lua", signed_env(body, headers))
    used = cpu_seconds(server) - before
    return run.rps, used / max(run.requests, 1) * 1e6


def main() -> None:
    s = Settings.from_env()
    connections = s.connections[0]
    LOGS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="callsign-cost-") as work:
        callsign = Deployment("sqlite", pathlib.Path(work)).start()
        bare = start_bare(pathlib.Path(work), None)
        try:
            client = callsign.client()
            identity = client.create_identity()
            token = client.issue_token(identity)
            client.close()
            plain = Client(bare.base, "", cafile=None)
            bare_token = plain.expect(200, "POST", "/sign", {"scopes": ["chat", "voip"]}, signed=False)["token"]
            plain.close()
            cases = [
                ("bare: sign", bare, "/sign", ISSUE_BODY, False),
                ("issueAccessToken", callsign.server, issue_path(identity), ISSUE_BODY, True),
                ("bare: verify", bare, "/verify", json.dumps({"token": bare_token}), False),
                ("tokens/:introspect", callsign.server, "/tokens/:introspect", json.dumps({"token": token}), True),
            ]
            for _ in range(s.rounds):
                for label, server, path, body, signed in cases:
                    headers = signed_headers(callsign.key, callsign.host, "POST", path, body) if signed else None
                    rps, cost = measure(s, server, server.base + path, connections, body, headers)
                    print(f"{label:<22} {rps:>9.0f} req/s  {cost:6.1f} µs CPU/request", file=sys.stderr)
        finally:
            callsign.server.stop()
            bare.stop()


if __name__ == "__main__":
    main()
