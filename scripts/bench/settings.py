"""What a run measures and how long, from the environment (see scripts/bench/run)."""
import dataclasses
import os

from load import Wrk, seconds

STORES = ("sqlite", "postgres")
PHASES = ("cold", "tokens", "create", "refresh", "signin", "propagation", "audit")


@dataclasses.dataclass
class Settings:
    duration: str
    rounds: int
    threads: int
    connections: list[int]
    tls_modes: list[bool]
    stores: list[str]
    admin_pg: str
    quick: bool
    phases: list[str]
    # The cores mode: server cores per run (empty: off, the servers share every core).
    cores: list[int]

    @classmethod
    def from_env(cls) -> "Settings":
        quick = os.environ.get("BENCH_QUICK") == "1"
        connections = [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "16,64,256").split(",")]
        stores = os.environ.get("BENCH_STORES", ",".join(STORES)).split(",")
        if unknown := set(stores) - set(STORES):
            raise SystemExit(f"BENCH_STORES: unknown store {', '.join(sorted(unknown))}")
        phases = os.environ.get("BENCH_PHASES", ",".join(PHASES)).split(",")
        if unknown := set(phases) - set(PHASES):
            raise SystemExit(f"BENCH_PHASES: unknown phase {', '.join(sorted(unknown))}")
        settings = cls(
            duration=os.environ.get("BENCH_DURATION", "5s"),
            rounds=1 if quick else int(os.environ.get("BENCH_ROUNDS", "3")),
            threads=int(os.environ.get("BENCH_THREADS", "2")),
            connections=connections[:1] if quick else connections,
            tls_modes=[False] if quick else [False, True],
            stores=stores,
            admin_pg=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres"),
            quick=quick,
            phases=phases,
            cores=[int(c) for c in os.environ.get("BENCH_CORES", "").split(",") if c],
        )
        seconds(settings.duration)  # refuses a duration pgbench could not take
        return settings

    @property
    def wrk(self) -> Wrk:
        return Wrk(self.threads, self.duration)

    @property
    def seconds(self) -> int:
        return seconds(self.duration)

    @property
    def most_connections(self) -> int:
        return max(self.connections)

    def timed_runs(self) -> int:
        """How many load runs of `duration` the run makes, to estimate its length."""
        stores, pg = len(self.stores), "postgres" in self.stores
        # Plain HTTP on every store, TLS on the first: two bare runs and two a store each.
        tokens = len(self.connections) * ((2 + 2 * stores) + 4 * (True in self.tls_modes))
        tokens *= "tokens" in self.phases
        database = len(self.connections) * (stores + pg)
        database *= ("create" in self.phases) + ("refresh" in self.phases)
        return self.rounds * (tokens + database + stores * ("signin" in self.phases))

    def describe(self) -> dict:
        return {
            "duration": self.duration, "rounds": self.rounds, "wrkThreads": self.threads,
            "connections": self.connections, "tls": ["on" if tls else "off" for tls in self.tls_modes],
            "stores": self.stores, "quick": self.quick, "phases": self.phases, "cores": self.cores,
        }
