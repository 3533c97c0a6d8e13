"""Load generators and what they report: wrk for HTTP, pgbench for the database floor, and the
median of several rounds."""
import dataclasses
import os
import pathlib
import re
import statistics
import subprocess
import tempfile

import pinning
from services import psql

HERE = pathlib.Path(__file__).resolve().parent
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclasses.dataclass
class Run:
    """One load run: throughput, tail latency, and requests that failed (non-2xx, socket errors)."""
    rps: float
    p99_ms: float
    requests: int
    failed: int

    def as_json(self) -> dict:
        return {"rps": self.rps, "p99Ms": self.p99_ms, "requests": self.requests, "failed": self.failed}


def summary(runs: list[Run]) -> dict:
    """The median throughput and median p99 of several rounds, with every round kept."""
    return {
        "rps": statistics.median(run.rps for run in runs),
        "p99Ms": statistics.median(run.p99_ms for run in runs),
        "failed": sum(run.failed for run in runs),
        "runs": [run.as_json() for run in runs],
    }


def seconds(duration: str) -> int:
    """wrk's duration (`5s`, `2m`, `1h` or seconds) in whole seconds, for pgbench."""
    match = re.fullmatch(r"(\d+)([smh]?)", duration.strip())
    if not match:
        raise ValueError(f"BENCH_DURATION: expected e.g. 5s or 1m, got {duration!r}")
    return int(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


class Wrk:
    """wrk with the run's threads and duration, latency distribution on."""

    def __init__(self, threads: int, duration: str):
        self.threads, self.duration = threads, duration

    def run(self, url: str, connections: int, script: str, env: dict[str, str]) -> Run:
        command = [os.environ.get("BENCH_WRK", "wrk"), f"-t{self.threads}", f"-c{connections}", f"-d{self.duration}",
                   "--timeout", "10s", "--latency", "-s", str(HERE / script), url]
        env = dict(os.environ) | env | {"BENCH_THREADS": str(self.threads)}
        done = subprocess.run(pinning.wrk(command), env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed on {url}: {done.stderr.strip()}")
        return parse_wrk(done.stdout)


def parse_wrk(output: str) -> Run:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
    requests = re.search(r"(\d+) requests in", output)
    if not (rps and p99 and requests):
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    failed = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    failed += int(non_2xx[1]) if non_2xx else 0
    return Run(float(rps[1]), float(p99[1]) * UNITS_MS[p99[2]], int(requests[1]), failed)


def signed_env(body: str, headers: dict[str, str] | None) -> dict[str, str]:
    """What request.lua sends: `body`, with the signature headers if given."""
    env = {"BENCH_BODY": body, "BENCH_AUTH": "", "BENCH_DATE": "", "BENCH_HASH": ""}
    if headers:
        env |= {"BENCH_AUTH": headers["Authorization"], "BENCH_DATE": headers["x-ms-date"],
                "BENCH_HASH": headers["x-ms-content-sha256"]}
    return env


def database_clients(url: str, wanted: int) -> int:
    """`wanted` pgbench clients, or as many as the server has connections left for (with a
    margin for the Callsign pools and anyone else using the server)."""
    limit = int(psql(url, "SHOW max_connections"))
    in_use = int(psql(url, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"))
    return max(2, min(wanted, limit - in_use - 10))


def pgbench(url: str, clients: int, duration: int, script: pathlib.Path) -> Run:
    """pgbench running `script` (one statement a transaction) with `clients` connections."""
    with tempfile.TemporaryDirectory() as logs:
        prefix = pathlib.Path(logs) / "tx"
        command = ["pgbench", "-n", "-c", str(clients), "-j", "2", "-T", str(duration),
                   "-l", f"--log-prefix={prefix}", "-f", str(script), url]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"pgbench failed: {done.stderr.strip()}")
        # Per-transaction log: client, transaction, latency in µs, script, epoch s, µs.
        latencies = sorted(int(line.split()[2]) for path in pathlib.Path(logs).iterdir()
                           for line in path.read_text().splitlines())
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    if not (tps and latencies):
        raise RuntimeError(f"unexpected pgbench output:\n{done.stdout}")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] / 1000
    return Run(float(tps[1]), p99, len(latencies), int(failed[1]) if failed else 0)
