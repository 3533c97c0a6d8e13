"""Where a run's results go: target/bench/results.json (everything, every round) and
target/bench/results.md (the tables), both headed with the date, machine and commit."""
import collections
import datetime
import json
import os
import pathlib
import platform
import re
import subprocess

from services import LOGS, ROOT

OUT = ROOT / "target/bench"


def machine() -> dict:
    cpuinfo = pathlib.Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    meminfo = pathlib.Path("/proc/meminfo").read_text()
    mem_kib = int(next(line.split()[1] for line in meminfo.splitlines() if line.startswith("MemTotal:")))
    return {"nproc": len(os.sched_getaffinity(0)), "cpu": model, "memoryGiB": round(mem_kib / 2**20, 1),
            "kernel": platform.release()}


def commit() -> dict:
    # A kit copied to another machine (scripts/bench/kit) says its commit in a file.
    if (kit := ROOT / "COMMIT").exists():
        return {"commit": kit.read_text().strip(), "uncommittedChanges": False}

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"commit": git("rev-parse", "HEAD"), "uncommittedChanges": bool(git("status", "--porcelain"))}


def header() -> dict:
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine(), "git": commit()}


EXPECTED = re.compile(r"callsign::startup|rustls::msgs::handshake: Illegal SNI extension")


def server_warnings() -> dict[str, int]:
    """What the servers logged at WARN or ERROR during the run, by message (its fields left out),
    most frequent first. Left out: start-up notices the run's settings cause (plain HTTP, seeded
    keys, a generated master key), and rustls noting that wrk names 127.0.0.1 in its SNI."""
    counts = collections.Counter()
    for log in sorted(LOGS.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            found = re.search(r"\b(WARN|ERROR) (\S+?): (.*?)( \w+=.*)?$", line)
            if found and not (found[1] == "WARN" and EXPECTED.match(f"{found[2]}: {found[3]}")):
                counts[f"{found[1]} {found[2]}: {found[3]}"] += 1
    return dict(counts.most_common())


def write_json(results: dict) -> pathlib.Path:
    OUT.mkdir(parents=True, exist_ok=True)
    as_json = OUT / "results.json"
    as_json.write_text(json.dumps(results, indent=2) + "\n")
    return as_json


def write(results: dict) -> tuple[pathlib.Path, pathlib.Path]:
    as_md = OUT / "results.md"
    as_json = write_json(results)
    as_md.write_text(markdown(results))
    return as_json, as_md


def number(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def rate(measured: dict) -> str:
    failed = f" ({measured['failed']} failed)" if measured["failed"] else ""
    return number(measured["rps"]) + failed


def ms(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f} s"
    return f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"


def percent(ratio: float) -> str:
    return f"{ratio * 100:.0f} %"


def table(head: list[str], rows: list[list[str]], words: int) -> list[str]:
    """A markdown table whose first `words` columns are text and the rest figures."""
    align = ["---" if i < words else "---:" for i in range(len(head))]
    return [f"| {' | '.join(head)} |", f"| {' | '.join(align)} |"] + [f"| {' | '.join(row)} |" for row in rows]


def rounds(count: int) -> str:
    return "one round" if count == 1 else f"{count} interleaved rounds"


def on_off(tls: bool) -> str:
    return "on" if tls else "off"


def markdown(r: dict) -> str:
    m, s, git = r["machine"], r["settings"], r["git"]
    dirty = " with uncommitted changes" if git["uncommittedChanges"] else ""
    lines = [
        "# Callsign benchmarks", "",
        f"- date: {r['date']}",
        f"- machine: {m['nproc']} cores (nproc), {m['cpu']}, {m['memoryGiB']} GiB memory, Linux {m['kernel']}",
        f"- commit: {git['commit'][:12]}{dirty}",
        f"- wrk: {s['wrkThreads']} threads, {s['duration']} a run, median of {rounds(s['rounds'])};"
        " load generator, servers and PostgreSQL on the same machine; release build",
    ]
    if "tokens" in r:
        lines += token_tables(r)
    if "cores" in r:
        lines += cores_table(r["cores"])
    for key, title, floor in (("createIdentity", "Create identity (signed `POST /identities`)", "INSERT"),
                              ("refresh", "Refresh-token rotation (`POST /v1/sessions/refresh`)", "UPDATE")):
        if key in r:
            lines += database_table(r[key], title, floor)
    if "signIn" in r:
        lines += ["", "## Sign-in (`POST /v1/sessions`, argon2id)", ""]
        lines += table(["store", "connections", "req/s", "p99"],
                       [[row["store"], str(row["connections"]), rate(row["callsign"]), ms(row["callsign"]["p99Ms"])]
                        for row in r["signIn"]], 1)
    if "audit" in r:
        lines += audit_tables(r["audit"])
    if cold := r.get("coldStart"):
        met = "met" if cold["firstStartMs"] < 300 and cold["restartMs"] < 300 else "not met"
        lines += ["", "## Cold start to ready (SQLite, exec to first 200 of `/readyz`)", "",
                  f"First start (empty data directory) {ms(cold['firstStartMs'])}, restart {ms(cold['restartMs'])};"
                  f" median of {cold['samples']} each; target < 300 ms {met}."]
    return finish(r, lines)


def token_tables(r: dict) -> list[str]:
    lines = ["", "## Token endpoints against a bare axum route doing only the JWT work", ""]
    def endpoint(row: dict) -> str:
        if row["endpoint"] == "issueMany":
            return f"`POST …/:issueAccessToken`, {number(row['identities'])} identities, vs bare sign"
        return {"issueAccessToken": "`POST …/:issueAccessToken` vs bare sign",
                "introspect": "`POST /tokens/:introspect` vs bare verify"}[row["endpoint"]]

    lines += table(["endpoint", "store", "TLS", "connections", "req/s", "p99", "bare req/s", "bare p99", "vs bare",
                    "vs one identity"],
                   [[endpoint(row), row["store"], on_off(row["tls"]), str(row["connections"]),
                     rate(row["callsign"]), ms(row["callsign"]["p99Ms"]), rate(row["bare"]),
                     ms(row["bare"]["p99Ms"]), percent(row["ratio"]),
                     percent(row["vsOneIdentity"]) if "vsOneIdentity" in row else "–"] for row in r["tokens"]], 3)
    lines += ["", "## Peak RSS during the issue runs at the most connections", ""]
    lines += table(["store", "TLS", "connections", "peak RSS (VmHWM)"],
                   [[row["store"], on_off(row["tls"]), str(row["connections"]), f"{row['peakRssKiB'] / 1024:.1f} MiB"]
                    for row in r["peakRss"]], 2)
    return lines


def database_table(results: list, title: str, floor: str) -> list[str]:
    lines = ["", f"## {title} against pgbench single-row {floor} on the same PostgreSQL", ""]
    rows = []
    for row in results:
        floor_cells = ["–", "–", "–", "–"]
        if "pgbench" in row:
            pg = row["pgbench"]
            floor_cells = [str(pg["clients"]), rate(pg), ms(pg["p99Ms"]), percent(row["ratio"])]
        rows.append([row["store"], str(row["connections"]), rate(row["callsign"]),
                     ms(row["callsign"]["p99Ms"]), *floor_cells])
    lines += table(["store", "connections", "req/s", "p99", "pgbench clients", "pgbench tx/s",
                    "pgbench p99", "vs pgbench"], rows, 1)
    lines += ["", "pgbench clients are capped by the server's `max_connections`; SQLite has no pgbench floor."]
    return lines


def cores_table(runs: list[dict]) -> list[str]:
    """One row per server core count: each token endpoint's ratio to the bare route."""
    lines = ["", "## By server cores (servers pinned to N cores, wrk to cores of its own)", ""]
    rows = []
    for run in runs:
        for row in run["tokens"]:
            if row["endpoint"] == "issueAccessToken":
                many = [other for other in run["tokens"] if other["endpoint"] == "issueMany"
                        and (other["store"], other["tls"], other["connections"])
                        == (row["store"], row["tls"], row["connections"])]
                verify = next(other for other in run["tokens"] if other["endpoint"] == "introspect"
                              and (other["store"], other["tls"], other["connections"])
                              == (row["store"], row["tls"], row["connections"]))
                rows.append([str(run["cores"]), row["store"], on_off(row["tls"]), str(row["connections"]),
                             f"{rate(row['callsign'])} / {rate(row['bare'])} = {percent(row['ratio'])}",
                             "; ".join(f"{number(other['identities'])}: {rate(other['callsign'])}"
                                       f" ({percent(other['callsign']['rps'] / row['callsign']['rps'])})"
                                       for other in many),
                             f"{rate(verify['callsign'])} / {rate(verify['bare'])} = {percent(verify['ratio'])}"])
    lines += table(["cores", "store", "TLS", "connections", "issue vs bare",
                    "issue over many identities (vs one)",
                    "introspect vs bare"], rows, 3)
    return lines


def audit_tables(audit: dict) -> list[str]:
    lines = ["", "## The audit trail", "",
             "Bytes per audited token: the trail's tables and indexes (PostgreSQL: every partition;"
             " SQLite: `dbstat`) before and after issuing over 256 identities, over the rows added.", ""]
    lines += table(["store", "tokens", "bytes per token"],
                   [[row["store"], number(row["tokens"]), f"{row['bytesPerToken']:.0f}"]
                    for row in audit["bytesPerToken"]], 1)
    lines += ["", "Retention with a backlog past it: a fresh instance's first upkeep purges it (PostgreSQL:"
              " one day's partition, detached and dropped; SQLite: deletes of 1 000 rows, resting as long as each took) while it issues"
              " over 256 identities at the most connections.", ""]
    lines += table(["store", "rows past retention", "purge", "req/s during", "p99 during",
                    "req/s after", "p99 after"],
                   [[row["store"], number(row["backlog"]), ms(row["purgeMs"]), rate(row["during"]),
                     ms(row["during"]["p99Ms"]), rate(row["after"]), ms(row["after"]["p99Ms"])]
                    for row in audit["retention"]], 1)
    return lines


def finish(r: dict, lines: list[str]) -> str:
    if prop := r.get("propagation"):
        lines += ["", "## Revocation propagation (two instances on PostgreSQL)", "",
                  f"From the revoke's return on A to the first inactive introspection on B, {prop['samples']}"
                  f" revocations: p50 {ms(prop['p50Ms'])}, p99 {ms(prop['p99Ms'])}, max {ms(prop['maxMs'])}"
                  f" (the revoke call itself: p50 {ms(prop['revokeCallP50Ms'])}, its 20 ms commit wait included)."]
    if warnings := r.get("serverLog"):
        lines += ["", "## Warnings and errors the servers logged (`target/bench/logs/`)", ""]
        lines += [f"- {count} × `{message}`" for message, count in warnings.items()]
    return "\n".join(lines) + "\n"
