"""`ticketrush sweep` as a user types it: a table per value with a progress bar, CSV, JSON and refusals."""

from __future__ import annotations

import csv
import io
import json

import pytest

from app.cli import main

# Three buyers released together, each holding the count 100 ms: without a lock all three sell the one ticket.
RACE = ("--buyers", "3", "--tickets", "1", "--think-ms", "0", "--hold-ms", "100")


def sweep(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["sweep", *argv], out=out)
    return code, out.getvalue()


def test_cli_sweep_prints_the_spread_of_each_value_and_a_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    code, text = sweep("--vary", "lock=none,file", "--trials", "2", "--seed", "5", *RACE)

    assert code == 0
    header, unguarded, guarded, blank, seed = text.splitlines()
    assert blank == ""
    assert header.split("  ")[0] == "lock" and "oversold (min / median / max)" in header
    assert unguarded.split()[:7] == ["none", "2/2", "2", "/", "2", "/", "2"]
    assert guarded.split()[:7] == ["file", "2/2", "0", "/", "0", "/", "0"]
    assert seed == "(seed 5: trial k of every value ran with seed 5 + k - 1; --seed 5 repeats them)"
    assert capsys.readouterr().err.splitlines()[-1] == f"[{'#' * 40}] 4/4 trials"


def test_cli_sweep_speaks_chinese_with_lang_zh_its_table_seed_and_progress(capsys: pytest.CaptureFixture[str]) -> None:
    code, text = sweep("--vary", "lock=none,file", "--trials", "2", "--seed", "5", "--lang", "zh", *RACE)

    assert code == 0
    header, unguarded, guarded, _, seed = text.splitlines()
    assert header.split()[:3] == ["lock", "试验", "超卖(最小"] and "每秒售出(最小 / 中位 / 最大)" in header
    assert unguarded.split()[:7] == ["none", "2/2", "2", "/", "2", "/", "2"]
    assert guarded.split()[:7] == ["file", "2/2", "0", "/", "0", "/", "0"]
    assert seed == "(种子 5:每个取值的第 k 次试验用种子 5 + k - 1 运行;加上 --seed 5 可以重现)"
    assert capsys.readouterr().err.splitlines()[-1] == f"[{'#' * 40}] 4/4 次试验"


def test_cli_sweep_csv_has_one_row_per_trial() -> None:
    code, text = sweep("--vary", "buyers=2,3", "--trials", "2", "--seed", "9", "--csv", "--think-ms", "0")

    assert code == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["buyers"], r["trial"], r["id"], r["status"], r["seed"]) for r in rows] == [
        ("2", "1", "1", "completed", "9"),
        ("3", "1", "2", "completed", "9"),
        ("2", "2", "3", "completed", "10"),
        ("3", "2", "4", "completed", "10"),
    ]
    assert all(int(r["tickets_sold"]) == 1 for r in rows)


def test_cli_sweep_json_gives_the_points_as_the_api_does() -> None:
    code, text = sweep("--vary", "lock=none,file", "--trials", "2", "--json", *RACE)

    assert code == 0
    body = json.loads(text)
    assert body["vary"] == {"field": "lock", "values": ["none", "file"]} and body["trials"] == 2
    unguarded, guarded = body["points"]
    assert (unguarded["trials"], guarded["trials"]) == (["1", "3"], ["2", "4"])
    assert unguarded["oversold"] == {"min": 2, "median": 2, "max": 2}
    assert guarded["oversold"] == {"min": 0, "median": 0, "max": 0}
    assert unguarded["oversold_histogram"] == [{"oversold": 2, "trials": 2}]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--vary", "seed=1,2"],
            "ticketrush: --vary: 'seed' cannot be varied (trials repeat a point with seeds seed, seed + 1, ...); "
            "vary buyers, tickets, hold_ms, think_ms, permits, workers, lock, strategy, store or executor",
        ),
        (["--vary", "buyers=2,lots"], "ticketrush: --vary buyers: a whole number (got 'lots')"),
        (
            ["--vary", "hold-ms=10,-5"],
            "ticketrush: --vary hold_ms: a number of milliseconds from 0 to 60000, or a min-max range of them with "
            "min at most max (got -5.0)",
        ),
        (
            ["--vary", "hold_ms=10", "--hold-ms", "20"],
            "ticketrush: --hold-ms: --vary sets hold_ms; leave --hold-ms out",
        ),
        (
            ["--vary", "hold_ms=10", "--trials", "0"],
            "ticketrush: --trials: a whole number of trials for each value, from 1 to 1,000 (got 0)",
        ),
        (
            ["--vary", "strategy=read-write,optimistic", "--lock", "file"],
            "ticketrush: with --vary strategy optimistic: --lock: lock 'file' guards strategy 'read-write' only; "
            "strategy 'optimistic' takes no lock (use lock 'none', or strategy 'read-write' with lock 'file')",
        ),
        (["--vary", "hold_ms=0", "--csv", "--json"], "ticketrush: --csv and --json: choose one"),
    ],
)
def test_cli_sweep_refusal_names_the_option(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = sweep(*argv)

    assert (code, text) == (2, "")
    assert capsys.readouterr().err.splitlines() == [message]
