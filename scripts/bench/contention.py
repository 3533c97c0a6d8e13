"""What would stop issuing from scaling with cores, measured on any machine (started by
scripts/bench/contention): Callsign on SQLite, plain HTTP, issues for one identity and spread
over 256 and over 10 000, at many connections, while the server's threads' CPU time is read
from /proc and `perf stat` counts its futex waits and context switches. Per issued token it
reports the server's CPU, each kind of thread's (and its busiest thread's), and the futex waits
(a lock or a queue that made a thread sleep: contention, or a worker with nothing to do).
SQLite's one writer thread takes every token's audit row: its CPU per token bounds the tokens a
second that any number of cores can issue on SQLite."""
import collections
import pathlib
import subprocess
import sys
import tempfile

from client import issue_path
from load import Run, signed_env
from phases import ISSUE_BODY, MANY_IDENTITIES, spread
from services import LOGS, Deployment, Server, stat_cpu_seconds
from settings import Settings
from sign import signed_headers

# futex operations that sleep: FUTEX_WAIT and FUTEX_WAIT_BITSET, with or without the private flag.
FUTEX_WAITS = "op == 0 || op == 9 || op == 128 || op == 137"
# The name (cut to 15 characters by Linux) of the threads sqlx runs SQLite connections on.
SQLITE_THREAD = "sqlx-sqlite-wor"


def threads_cpu(server: Server) -> collections.Counter:
    """CPU seconds so far per thread name (threads of one name summed, and each kept apart by
    its id as `name#tid`)."""
    seconds = collections.Counter()
    for task in pathlib.Path(f"/proc/{server.process.pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        seconds[f"{name}#{task.name}"] += stat_cpu_seconds(stat)
    return seconds


def measured(server: Server, load) -> tuple[Run, collections.Counter, dict[str, int]]:
    """`load()`'s run, each thread's CPU seconds during it, and perf's counts meanwhile."""
    before = threads_cpu(server)
    perf = subprocess.Popen(
        ["perf", "stat", "-x", ",", "-p", str(server.process.pid),
         "-e", "syscalls:sys_enter_futex", "--filter", FUTEX_WAITS, "-e", "context-switches"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    run = load()
    perf.send_signal(subprocess.signal.SIGINT)
    _, report = perf.communicate()
    used = threads_cpu(server)
    used.subtract(before)
    counts = {}
    for line in report.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[0].isdigit():
            counts[fields[2]] = int(fields[0])
    return run, used, counts


def report(label: str, run: Run, used: collections.Counter, counts: dict[str, int]) -> None:
    tokens = max(run.requests, 1)
    per_token = lambda seconds: seconds / tokens * 1e6  # noqa: E731
    futex = counts.get("syscalls:sys_enter_futex", 0)
    switches = counts.get("context-switches", 0)
    print(f"{label:<30} {run.rps:>8.0f} req/s  p99 {run.p99_ms:6.2f} ms  failed {run.failed}\n"
          f"  server CPU {per_token(sum(used.values())):5.1f} µs/token, "
          f"futex waits {futex / tokens:.3f}/token, context switches {switches / tokens:.3f}/token",
          file=sys.stderr)
    kinds = collections.defaultdict(list)
    for thread, seconds in used.items():
        kinds[thread.split("#")[0]].append(seconds)
    for kind, threads in sorted(kinds.items(), key=lambda item: -sum(item[1])):
        busiest = per_token(max(threads))
        print(f"    {kind:<16} {len(threads):>3} threads {per_token(sum(threads)):6.1f} µs/token, "
              f"the busiest {busiest:5.1f}", file=sys.stderr)
    # sqlx gives each SQLite connection a thread; the busiest is the one writer's, which every
    # write of the instance goes through, however many cores it has.
    if writer := max(kinds.get(SQLITE_THREAD, []), default=0):
        print(f"  SQLite's writer thread: {per_token(writer):.1f} µs/token, at most "
              f"{1e6 / per_token(writer):,.0f} tokens/s on any number of cores", file=sys.stderr)


def main() -> None:
    s = Settings.from_env()
    connections = s.connections[0]
    LOGS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="callsign-contention-") as work:
        callsign = Deployment("sqlite", pathlib.Path(work)).start()
        try:
            client = callsign.client()
            identities = [client.create_identity() for _ in range(max(MANY_IDENTITIES))]
            client.close()
            path = issue_path(identities[0])
            headers = signed_headers(callsign.key, callsign.host, "POST", path, ISSUE_BODY)
            one = lambda: s.wrk.run(callsign.base + path, connections, "request.lua",  # noqa: E731
                                    signed_env(ISSUE_BODY, headers))
            for _ in range(s.rounds):
                report(f"one identity, {connections} conns", *measured(callsign.server, one))
                for count in MANY_IDENTITIES:
                    paths = [issue_path(i) for i in identities[:count]]
                    many = lambda: spread(s, f"{count} identities", callsign, paths, connections)  # noqa: E731
                    report(f"{count} identities, {connections} conns", *measured(callsign.server, many))
        finally:
            callsign.server.stop()


if __name__ == "__main__":
    main()
