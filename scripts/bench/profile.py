"""Where one endpoint's time goes: starts Callsign (SQLite, plain HTTP, release build), drives
`:issueAccessToken`, `/tokens/:introspect` or `POST /identities` with wrk, and records the
server with `perf record -g` meanwhile (started by scripts/bench/profile)."""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading

from client import issue_path
from load import signed_env
from phases import CREATE_PATH, ISSUE_BODY
from services import LOGS, Deployment
from settings import Settings
from sign import signed_headers

ENDPOINTS = ("issue", "introspect", "create")


def main() -> None:
    endpoint = sys.argv[1] if len(sys.argv) > 1 else "issue"
    if endpoint not in ENDPOINTS:
        sys.exit(f"usage: scripts/bench/profile [{'|'.join(ENDPOINTS)}] [connections]")
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    s = Settings.from_env()
    out = pathlib.Path("target/bench/perf.data").resolve()
    LOGS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="callsign-profile-") as work:
        callsign = Deployment("sqlite", pathlib.Path(work)).start()
        try:
            client = callsign.client()
            identity = client.create_identity()
            if endpoint == "issue":
                path, body = issue_path(identity), ISSUE_BODY
            elif endpoint == "create":
                path, body = CREATE_PATH, "{}"
            else:
                path = "/tokens/:introspect"
                body = json.dumps({"token": client.issue_token(identity)})
            client.close()
            headers = signed_headers(callsign.key, callsign.host, "POST", path, body)
            perf = subprocess.Popen(["perf", "record", "--call-graph", os.environ.get("PROFILE_CALL_GRAPH", "fp"), "-F", "999", "-o", str(out),
                                     "-p", str(callsign.server.process.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            load = threading.Thread(target=lambda: print(
                s.wrk.run(callsign.base + path, connections, "request.lua", signed_env(body, headers)),
                file=sys.stderr))
            load.start()
            load.join()
            perf.send_signal(subprocess.signal.SIGINT)
            perf.wait()
        finally:
            callsign.server.stop()
    print(f"recorded: {out}; read it with: perf report -i {out} --no-children", file=sys.stderr)


if __name__ == "__main__":
    main()
