"""bench.native and section 9: the servers' own tools run the atomic strategy's step on a table or key of their own,
their reports are read right (checked against what the server's count lost), and nothing is left on the servers.

Not timed tests: the figures are the benchmark's business; these check that they are what they say.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bench.__main__ import ATOMIC_STEPS, NATIVE_STORES, QUICK, beside_native_tools
from bench.native import NativeError, parse_pgbench, parse_redis_benchmark, pgbench, redis_benchmark, tool_path
from tests.bench.test_bench import ROOT, run_json
from tests.servers import Postgres, Redis
from workers.stores.redis import TAKE_ONE
from workers.support import cures

# the cures that need not be exact: the race without a lock, and the semaphore, whose 3 permits let both workers
# into the critical section at once; every other cure must be, whatever the interleaving
UNSAFE = ("read-write/none", "read-write/semaphore")


def has_table(postgres: Postgres, key: str) -> bool:
    found = postgres.conn.execute("SELECT to_regclass(%s)", (f'"ticketrush_{key}"',)).fetchone()
    return found is not None and found[0] is not None


def keys_of(redis_server: Redis, key: str) -> list[bytes]:
    return list(redis_server.client.scan_iter(match=f"ticketrush:{key}:*"))


def test_pgbench_report_is_read_right_against_what_the_table_lost(postgres: Postgres, tmp_path: Path) -> None:
    started = time.perf_counter()
    result = pgbench(postgres.url, clients=2, sales=300, folder=tmp_path)
    wall_s = time.perf_counter() - started
    # the transactions pgbench says it made are the tickets the count lost: one a transaction, none run out
    assert (result["transactions"], result["expected"], result["failed_transactions"]) == (300, 300, 0)
    assert (result["sold"], result["left"], result["clients"]) == (300, 0, 2)
    # its tps is a rate of those transactions, within the time the whole call took
    assert result["tps"] >= 300 / wall_s
    assert not has_table(postgres, result["store_key"])


def test_pgbench_runs_the_atomic_strategy_statement(postgres: Postgres, tmp_path: Path) -> None:
    """The script pgbench runs is the store's own take_one statement, on the table the store made."""
    result = pgbench(postgres.url, clients=1, sales=5, folder=tmp_path)
    script = (tmp_path / "take_one.sql").read_text()
    table = f'"ticketrush_{result["store_key"]}"'
    assert script == f"UPDATE {table} SET count = count - 1 WHERE count > 0 RETURNING count;\n"
    assert result["sold"] == 5 and result["left"] == 0


def test_pgbench_report_of_a_real_run_parses_and_a_failed_one_says_why(postgres: Postgres, tmp_path: Path) -> None:
    script = tmp_path / "select.sql"
    script.write_text("SELECT 1;\n")
    args = [tool_path("pgbench"), "--no-vacuum", f"--file={script}", "--client=2", "--jobs=2", "--transactions=7"]
    done = subprocess.run([*args, postgres.url], capture_output=True, text=True, timeout=60, check=True)
    figures = parse_pgbench(done.stdout)
    assert (figures["transactions"], figures["expected"], figures["failed_transactions"]) == (14, 14, 0)
    assert figures["tps"] > 0
    with pytest.raises(NativeError, match="pgbench printed no tps"):
        parse_pgbench(done.stderr)  # its progress lines, without the report


def test_redis_benchmark_report_is_read_right_against_what_the_key_lost(redis_server: Redis, tmp_path: Path) -> None:
    started = time.perf_counter()
    result = redis_benchmark(redis_server.url, clients=2, sales=2000, folder=tmp_path)
    wall_s = time.perf_counter() - started
    sha = hashlib.sha1(TAKE_ONE.encode()).hexdigest()
    # EVALSHA of the store's own script on the store's own count key, 2000 times: every one a sale
    assert result["test"] == f"EVALSHA {sha} 1 ticketrush:{result['store_key']}:count"
    assert (result["sold"], result["left"], result["transactions"]) == (2000, 0, 2000)
    assert result["tps"] >= 2000 / wall_s and result["p50_ms"] > 0
    assert keys_of(redis_server, result["store_key"]) == []


def test_redis_benchmark_that_fails_says_so(redis_server: Redis) -> None:
    """A script the server does not know: redis-benchmark exits 1, and its CSV holds no figure."""
    args = [tool_path("redis-benchmark"), "-u", redis_server.url, "-c", "1", "-n", "3", "--csv"]
    done = subprocess.run([*args, "EVALSHA", "0" * 40, "1", "k"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "NOSCRIPT" in done.stdout + done.stderr
    with pytest.raises(NativeError, match="printed no requests per second"):
        parse_redis_benchmark(done.stdout)


@pytest.mark.parametrize(
    ("tool", "url"),
    [("pgbench", "postgresql://postgres@127.0.0.1:1/test"), ("redis-benchmark", "redis://127.0.0.1:1/0")],
)
def test_a_tool_whose_server_is_unreachable_fails_with_the_stores_words(tool: str, url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.native", tool, "--url", url, "--sales", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "server at 127.0.0.1:1 could not be reached" in done.stdout, done.stdout


def test_engine_run_on_a_server_drops_what_it_made(redis_server: Redis) -> None:
    result = run_json("bench.engine", "--buyers", "40", "--tickets", "40", "--store", "redis", "--strategy",
                      "atomic", "--lock", "none", "--executor", "pool", "--url", redis_server.url)  # fmt: skip
    assert result["correct"] and result["sold"] == 40
    # a buyer's search (GET) and purchase (EVALSHA) each take a round trip to the server
    assert result["search_mean_us"] > 0 and result["purchase_mean_us"] > 0
    assert keys_of(redis_server, result["store_key"]) == []


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_section_9_has_every_cure_of_each_store_beside_the_tools_and_leaves_nothing(
    postgres: Postgres, redis_server: Redis, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TICKETRUSH_POSTGRES_URL", postgres.url)
    monkeypatch.setenv("TICKETRUSH_REDIS_URL", redis_server.url)
    buyers = 60
    data, table = beside_native_tools(replace(QUICK, native=(buyers, 1)), str(tmp_path))
    rows = data["rows"]
    assert list(rows) == [f"{store} {cure.name}" for store in NATIVE_STORES for cure in cures(store)]
    for name, row in rows.items():
        # a ticket for every buyer: nobody can be oversold, and what the count did not lose is a lost update
        assert row["oversold"] == 0, name
        assert row["lost_updates"] >= 0 and row["sales_per_second"] > 0, name
        if row["cure"] not in UNSAFE:
            assert (row["correct_runs"], row["lost_updates"]) == (1, 0), name
    for store in NATIVE_STORES:
        atomic = rows[f"{store} atomic"]
        assert (atomic["oversold"], atomic["lost_updates"], atomic["correct_runs"]) == (0, 0, 1), store
        if store in ATOMIC_STEPS:
            tool = data["tools"][store]
            assert tool["sold"] == tool["transactions"] == buyers and tool["tps"] > 0
            assert atomic["tool_tps"] == tool["tps"]
            assert atomic["ratio"] == pytest.approx(atomic["sales_per_second"] / tool["tps"])
        else:
            assert "tool" not in atomic  # SQLite has no server, so no tool of its own
    # every row in the table, the tool's figures beside the atomic rows on a server only
    rendered = table.render()
    for name, row in rows.items():
        line = next(line for line in rendered.splitlines() if line.split()[:2] == name.split())
        assert (row.get("tool", "") in line.split()) == ("tool" in row), line
    assert "pgbench" in rendered and "redis-benchmark" in rendered
    # nothing left: the runs' tables and keys (every cure of each server store, and its tool) are gone
    keys = data["store_keys"]
    assert len(keys["postgres"]) == len(cures("postgres")) + 1 and len(keys["redis"]) == len(cures("redis")) + 1
    assert data["left_behind"] == []
    assert not any(has_table(postgres, key) for key in keys["postgres"])
    assert all(keys_of(redis_server, key) == [] for key in keys["redis"])
