"""A store's own limit, measured with the server's own tool running the atomic strategy's one step:

    python -m bench.native pgbench --url postgresql://postgres@127.0.0.1:5432/test --clients 2 --sales 10000
    python -m bench.native redis-benchmark --url redis://127.0.0.1:6379/0 --clients 2 --sales 10000

pgbench runs the conditional UPDATE of workers/stores/postgres.py (`take_one_sql`) as its script, prepared (as
psycopg runs a statement it has seen five times), each client in a thread of its own; redis-benchmark runs
EVALSHA of the Lua script of workers/stores/redis.py (`TAKE_ONE`), one command in flight per client (no
pipelining), as a buyer sends it. Each works on a table or a key of its own, made by the store class itself (the
same table and key as a run's) with one ticket for each of its `--sales` transactions, so it never runs out: the
count it leaves is 0 when every transaction sold one. The table or key is dropped afterwards, even when the tool
fails.

Prints one JSON line: the tool's transactions per second, the transactions it made (and pgbench's failed ones),
the tickets sold and left, and the store's key (`ticketrush_<key>`, `ticketrush:<key>:*`) for a caller that checks
that nothing is left.
"""

from __future__ import annotations

import argparse
import csv
import glob
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg
import redis

from workers.errors import TicketrushError
from workers.stores.postgres import PostgresStore
from workers.stores.redis import TAKE_ONE, RedisStore

TOOL_TIMEOUT_S = 600.0
NATIVE_TOOLS = {"postgres": "pgbench", "redis": "redis-benchmark"}  # each server store's own tool
LOCAL_URLS = {"postgres": "postgresql://postgres@127.0.0.1:5432/test", "redis": "redis://127.0.0.1:6379/0"}


class NativeError(Exception):
    """A native tool is missing, failed, or printed no figure."""


def tool_path(name: str) -> str:
    """Where `name` is: on PATH, else (pgbench) in the newest PostgreSQL's own bin folder, as Debian installs it."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[-3]))
    if versions:
        return versions[-1]
    package = "postgresql" if name == "pgbench" else "redis-tools"
    raise NativeError(f"{name} is not installed: it comes with Debian's {package}")


def server_urls() -> dict[str, str]:
    """The servers the benchmark uses: TICKETRUSH_POSTGRES_URL and TICKETRUSH_REDIS_URL, else the local ones."""
    return {store: os.environ.get(f"TICKETRUSH_{store.upper()}_URL") or url for store, url in LOCAL_URLS.items()}


def left_behind(urls: dict[str, str], keys: dict[str, list[str]]) -> list[str]:
    """The tables and keys of the runs named by `keys` (store kind: run keys) still on the servers."""
    found: list[str] = []
    if keys.get("postgres"):
        with psycopg.connect(urls["postgres"], autocommit=True) as conn:
            for key in keys["postgres"]:
                row = conn.execute("SELECT to_regclass(%s)", (f'"ticketrush_{key}"',)).fetchone()
                if row is not None and row[0] is not None:
                    found.append(f"table ticketrush_{key}")
    if keys.get("redis"):
        client = redis.Redis.from_url(urls["redis"])
        try:
            for key in keys["redis"]:
                found += [f"key {k.decode()}" for k in client.scan_iter(match=f"ticketrush:{key}:*")]
        finally:
            client.close()
    return found


def parse_pgbench(out: str) -> dict[str, Any]:
    """pgbench's report: tps (without the initial connection time), transactions made and expected, failed."""
    tps = re.search(r"^tps = ([0-9.]+) \(without initial connection time\)$", out, re.M)
    done = re.search(r"^number of transactions actually processed: (\d+)(?:/(\d+))?$", out, re.M)
    if tps is None or done is None:
        raise NativeError(f"pgbench printed no tps: {out[-500:]!r}")
    failed = re.search(r"^number of failed transactions: (\d+)", out, re.M)
    return {
        "tps": float(tps.group(1)),
        "transactions": int(done.group(1)),
        "expected": int(done.group(2) or done.group(1)),
        "failed_transactions": int(failed.group(1)) if failed else 0,
    }


def parse_redis_benchmark(out: str) -> dict[str, Any]:
    """redis-benchmark's --csv report of one test: requests per second and the median latency."""
    rows = list(csv.DictReader(io.StringIO(out)))
    if len(rows) != 1 or not rows[0].get("rps"):
        raise NativeError(f"redis-benchmark printed no requests per second: {out[-500:]!r}")
    return {"test": rows[0]["test"], "tps": float(rows[0]["rps"]), "p50_ms": float(rows[0]["p50_latency_ms"])}


def _run(args: list[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        raise NativeError(f"{Path(args[0]).name} took more than {TOOL_TIMEOUT_S:g} s") from e
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip())[-500:]
        raise NativeError(f"{Path(args[0]).name} exited with {done.returncode}: {said}")
    return done.stdout


def pgbench(url: str, clients: int, sales: int, folder: Path) -> dict[str, Any]:
    """pgbench running the atomic strategy's UPDATE: `sales // clients` transactions per client."""
    per_client = max(1, sales // clients)
    store = PostgresStore(folder / "pgbench", url)
    script = folder / "take_one.sql"
    script.write_text(store.take_one_sql + ";\n")
    stock = per_client * clients
    store.create(stock)
    try:
        out = _run([tool_path("pgbench"), "--no-vacuum", "--protocol=prepared", f"--file={script}",
                    f"--client={clients}", f"--jobs={clients}", f"--transactions={per_client}", url])  # fmt: skip
        left = store.final_count()
    finally:
        store.drop()
    figures = parse_pgbench(out)
    sold = stock - left
    return {"tool": "pgbench", "clients": clients, **figures, "sold": sold, "left": left, "store_key": store.key}


def redis_benchmark(url: str, clients: int, sales: int, folder: Path) -> dict[str, Any]:
    """redis-benchmark running EVALSHA of the atomic strategy's script: `sales` requests in all."""
    store = RedisStore(folder / "redis-benchmark", url)
    store.create(sales)
    try:
        client = redis.Redis.from_url(url)
        try:
            sha = client.script_load(TAKE_ONE)
        finally:
            client.close()
        out = _run([tool_path("redis-benchmark"), "-u", url, "-c", str(clients), "-n", str(sales), "-P", "1",
                    "--csv", "EVALSHA", sha, "1", store.count_key])  # fmt: skip
        left = store.final_count()
    finally:
        store.drop()
    figures = parse_redis_benchmark(out)
    return {"tool": "redis-benchmark", "clients": clients, **figures, "transactions": sales, "sold": sales - left,
            "left": left, "store_key": store.key}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.native", description=__doc__.split("\n\n")[0])
    parser.add_argument("tool", choices=tuple(NATIVE_TOOLS.values()))
    parser.add_argument("--url", required=True, help="the server's URL, as the store takes it")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--sales", type=int, default=10_000, help="transactions in all (tickets: as many)")
    args = parser.parse_args(argv)
    measure = pgbench if args.tool == "pgbench" else redis_benchmark
    with tempfile.TemporaryDirectory(prefix="ticketrush-bench-native-") as folder:
        try:
            result = measure(args.url, args.clients, args.sales, Path(folder))
        except (NativeError, TicketrushError) as e:
            print(json.dumps({"failed": str(e)}))
            return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
