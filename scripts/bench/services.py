"""The processes a benchmark run starts and the resources it makes: Callsign on either store, the
bare baseline, a fresh PostgreSQL database, the TLS certificate both servers serve."""
import base64
import contextlib
import http.client
import os
import pathlib
import socket
import ssl
import subprocess
import time
import urllib.parse
import uuid

import pinning
from client import Client

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Built here, or prebuilt beside a copy of these scripts (BENCH_BIN_DIR, see scripts/bench/kit).
BIN_DIR = os.environ.get("BENCH_BIN_DIR")
CALLSIGN = pathlib.Path(BIN_DIR, "callsign") if BIN_DIR else ROOT / "target/release/callsign"
BARE = pathlib.Path(BIN_DIR, "bare_jwt") if BIN_DIR else ROOT / "target/release/examples/bare_jwt"
# Each server's output, kept after the run for a look at what went wrong.
LOGS = ROOT / "target/bench/logs"
# Limits stay on, so every request still pays for the check, but no run reaches them.
UNREACHABLE_LIMIT = "100000000"
# Variables of the caller's shell that would change how Callsign runs.
FOREIGN = ("CALLSIGN_", "DATABASE_URL", "OTEL_", "RUST_LOG")


def stat_cpu_seconds(stat: str) -> float:
    """User and system CPU seconds from a `/proc/<pid>/stat` (or `task/<tid>/stat`) text: its
    fields 14 and 15 (utime, stime), in clock ticks, counted after the `(comm)` field."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def random_key(size: int) -> str:
    return base64.b64encode(os.urandom(size)).decode()


def make_certificate(directory: pathlib.Path) -> tuple[str, str]:
    """A P-256 certificate for 127.0.0.1 (the key type Callsign generates), for both servers."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return str(cert), str(key)


class Server:
    """A started process serving HTTP(S) on 127.0.0.1:`port`."""

    def __init__(self, name: str, argv: list[str], env: dict, port: int, tls: bool, log: pathlib.Path):
        self.name, self.port, self.tls = name, port, tls
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        self.log = log
        with open(log, "ab") as out:
            self.started = time.perf_counter()
            self.process = subprocess.Popen(pinning.server(argv), env=env, stdout=out,
                                            stderr=subprocess.STDOUT)

    def answers(self, path: str, wanted: int | None) -> bool:
        """Whether GET `path` answers (with `wanted`, if given)."""
        if self.tls:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=2,
                                               context=ssl._create_unverified_context())
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", path)
            status = conn.getresponse().status
            return wanted is None or status == wanted
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def wait(self, path: str, wanted: int | None, timeout: float = 60, poll: float = 0.05) -> float:
        """Waits until GET `path` answers; returns the seconds since the process was started."""
        deadline = time.monotonic() + timeout
        while not self.answers(path, wanted):
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}); see {self.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout} s; see {self.log}")
            time.sleep(poll)
        return time.perf_counter() - self.started

    def ready(self, path: str, wanted: int | None) -> "Server":
        """Waits as `wait` does; a server that never gets ready is stopped."""
        try:
            self.wait(path, wanted)
        except BaseException:
            self.stop()
            raise
        return self

    def reset_peak_rss(self) -> None:
        # Linux: writing 5 resets the process's resident-set high-water mark (VmHWM).
        pathlib.Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def peak_rss_kib(self) -> int:
        for line in pathlib.Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM in /proc/<pid>/status")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_bare(work: pathlib.Path, certificate: tuple[str, str] | None) -> Server:
    port = free_port()
    argv = [str(BARE), str(port), *(certificate or ())]
    server = Server("bare_jwt", argv, dict(os.environ), port, certificate is not None,
                    LOGS / f"bare-{port}.log")
    return server.ready("/sign", None)  # any answer (405 to a GET) means it is listening


class Deployment:
    """What the Callsign instances of one store share: keys, and on PostgreSQL the database,
    master key and public endpoint, as instances behind one load balancer do."""

    def __init__(self, store: str, work: pathlib.Path, database_url: str | None = None):
        self.store, self.work, self.database_url = store, work, database_url
        self.primary_key, self.secondary_key = random_key(64), random_key(64)
        self.master_key = random_key(32)

    def env(self, port: int, data_dir: pathlib.Path, certificate: tuple[str, str] | None) -> dict:
        env = {name: value for name, value in os.environ.items() if not name.startswith(FOREIGN)}
        env |= {
            "RUST_LOG": "warn",
            "CALLSIGN_LISTEN": f"127.0.0.1:{port}",
            "CALLSIGN_DATA_DIR": str(data_dir),
            "CALLSIGN_PRIMARY_KEY": self.primary_key,
            "CALLSIGN_SECONDARY_KEY": self.secondary_key,
            "CALLSIGN_RATE_LIMIT_PER_KEY": UNREACHABLE_LIMIT,
            "CALLSIGN_RATE_LIMIT_PER_IDENTITY": UNREACHABLE_LIMIT,
            "CALLSIGN_RATE_LIMIT_PER_ADDRESS": UNREACHABLE_LIMIT,
            "CALLSIGN_TLS": "on" if certificate else "off",
        }
        if certificate:
            env |= {"CALLSIGN_TLS_CERT": certificate[0], "CALLSIGN_TLS_KEY": certificate[1]}
        if os.environ.get("BENCH_AUDIT_FILE") == "1":
            env["CALLSIGN_AUDIT_FILE"] = str(data_dir / "audit.jsonl")
        if self.database_url:
            env |= {
                "DATABASE_URL": self.database_url,
                "CALLSIGN_MASTER_KEY": self.master_key,
                "CALLSIGN_ENDPOINT": "https://callsign.bench/",
            }
        return env

    def start(self, certificate: tuple[str, str] | None = None, data_dir: pathlib.Path | None = None,
              env: dict | None = None) -> "Callsign":
        """One more instance; SQLite instances each get a data directory of their own, unless
        given one (an instance started again); `env` overrides the instance's environment."""
        port = free_port()
        if data_dir is None:
            data_dir = self.work / f"{self.store}-{port}"
            data_dir.mkdir()
        server = Server(f"callsign ({self.store})", [str(CALLSIGN), "serve"],
                        self.env(port, data_dir, certificate) | (env or {}), port, certificate is not None,
                        LOGS / f"callsign-{self.store}-{port}.log").ready("/readyz", 200)
        return Callsign(self.store, server, self.primary_key, certificate[0] if certificate else None,
                        data_dir)


class Callsign:
    """A running instance and how to reach it."""

    def __init__(self, store: str, server: Server, key: str, cafile: str | None, data_dir: pathlib.Path):
        self.store, self.server, self.key, self.cafile = store, server, key, cafile
        self.data_dir = data_dir
        self.tls = server.tls
        self.host = f"127.0.0.1:{server.port}"
        self.base = server.base

    def client(self) -> Client:
        return Client(self.base, self.key, self.cafile)


def psql(url: str, sql: str) -> str:
    done = subprocess.run(["psql", url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True)
    return done.stdout.strip()


def with_database(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def fresh_database(admin_url: str):
    """A new database on the server at `admin_url` for this run, dropped afterwards."""
    name = f"callsign_bench_{uuid.uuid4().hex[:12]}"
    psql(admin_url, f"CREATE DATABASE {name}")
    try:
        yield with_database(admin_url, name)
    finally:
        psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
