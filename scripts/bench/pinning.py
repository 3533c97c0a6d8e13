"""The cores mode (BENCH_CORES): each server pinned to its first N cores with `taskset`, wrk to
the last eight (BENCH_WRK_CORES), so the load generator never takes a core from the server it
measures."""
import os

WRK_CORES = int(os.environ.get("BENCH_WRK_CORES", "8"))
_server: list[str] = []
_wrk: list[str] = []


def available() -> int:
    return len(os.sched_getaffinity(0))


def pin(server_cores: int | None) -> None:
    """Servers started from now on get cores 0..N-1 (all of them again for `None`), and wrk the
    last [`WRK_CORES`]."""
    if server_cores is None:
        _server.clear()
        _wrk.clear()
        return
    cores = available()
    if cores < server_cores + WRK_CORES:
        raise SystemExit(f"BENCH_CORES: {server_cores} server cores and {WRK_CORES} for wrk need"
                         f" {server_cores + WRK_CORES} cores; this machine has {cores}")
    _server[:] = ["taskset", "-c", f"0-{server_cores - 1}"]
    _wrk[:] = ["taskset", "-c", f"{cores - WRK_CORES}-{cores - 1}"]


def server(argv: list[str]) -> list[str]:
    return _server + argv


def wrk(argv: list[str]) -> list[str]:
    return _wrk + argv
