"""The `ticketrush` command as a user types it."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from live_server import wait_for

from app.cli import ProgressBar, main

WINNER = re.compile(r"buyer \d+ got a ticket \(read")


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_cli_run_tells_the_race_like_the_lesson() -> None:
    code, text = run_cli("run", "--buyers", "10", "--tickets", "1", "--lock", "none", "--seed", "3")
    assert code == 0
    assert text.count("sees 1 ticket left") == 10
    assert len(WINNER.findall(text)) >= 2  # without a lock, several buyers get the one ticket
    oversold_row = next(line for line in text.splitlines() if line.startswith("oversold"))
    assert int(oversold_row.split()[-1]) >= 1
    assert "seed 3" in text


def test_cli_run_with_a_lock_has_one_winner() -> None:
    code, text = run_cli("run", "--buyers", "10", "--tickets", "1", "--lock", "file", "--hold-ms", "20-40")
    assert code == 0
    assert len(WINNER.findall(text)) == 1
    assert len(re.findall(r"buyer \d+ found it sold out", text)) == 9


def test_cli_run_counts_the_buyers_who_gave_up_waiting_for_the_lock() -> None:
    code, text = run_cli(
        "run", "--buyers", "10", "--lock", "process", "--lock-timeout-s", "0.05", "--think-ms", "0", "--hold-ms", "1000"
    )
    assert code == 0
    assert text.count("gave up after waiting 0.05 s for the process lock") == 9
    rows = {line.rsplit(None, 1)[0].strip(): line.split()[-1] for line in text.splitlines() if "  " in line}
    assert (rows["buyers who gave up"], rows["buyers who failed"]) == ("9", "0")
    assert float(rows["lock wait p50 (ms)"]) >= 50
    assert "9 of 10 buyers gave up waiting for the process lock, each after" in text


def test_cli_run_json_is_the_engine_result() -> None:
    code, text = run_cli(
        "run", "--buyers", "6", "--tickets", "2", "--lock", "process", "--think-ms", "0", "--hold-ms", "5", "--json"
    )
    assert code == 0
    report = json.loads(text)
    assert report["config"]["lock"] == "process" and report["config"]["seed"] is not None
    assert report["result"]["buyers_succeeded"] == 2 and report["result"]["safe"] is True


def test_cli_compare_puts_every_cure_of_the_file_store_side_by_side() -> None:
    code, text = run_cli(
        "compare", "--buyers", "8", "--tickets", "1", "--think-ms", "0", "--hold-ms", "120", "--store", "file"
    )
    assert code == 0
    header = text.splitlines()[0].split()
    assert header == [
        "read-write/none", "read-write/process", "read-write/file", "read-write/semaphore", "optimistic", "seller"
    ]  # fmt: skip
    safe_row = next(line for line in text.splitlines() if line.startswith("safe"))
    assert safe_row.split()[1:] == ["NO", "yes", "yes", "NO", "yes", "yes"]  # 3 permits let 3 buyers in
    handed_out = next(line for line in text.splitlines() if line.startswith("tickets handed out"))
    assert handed_out.split()[-6:] == ["8", "1", "1", "3", "1", "1"]
    assert "optimistic: Safe: no seat sold twice. " in text


def test_cli_compare_of_the_memory_store_runs_its_own_cures() -> None:
    code, text = run_cli("compare", "--store", "memory", "--buyers", "5", "--tickets", "1", "--think-ms", "0",
                         "--hold-ms", "120", "--json")  # fmt: skip
    assert code == 0
    reports = json.loads(text)
    assert list(reports) == [
        "read-write/none", "read-write/process", "read-write/file", "read-write/semaphore", "seller"
    ]  # fmt: skip
    assert {r["config"]["store"] for r in reports.values()} == {"memory"}
    assert len({r["config"]["seed"] for r in reports.values()}) == 1  # one seed for all
    assert reports["read-write/none"]["result"]["oversold"] == 4 and reports["seller"]["result"]["oversold"] == 0


def test_cli_run_refuses_a_strategy_on_a_store_it_does_not_run_on() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "run", "--store", "memory", "--strategy", "optimistic"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "ticketrush: --strategy: strategy 'optimistic' does not run on store 'memory', which takes strategy "
        "'read-write' or 'seller'; strategy 'optimistic' runs on store 'file', 'sqlite', 'postgres' or 'redis'"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--buyers", "0"], "--buyers: a whole number of buyers from 1 to 10,000,000 (got 0)"),
        (
            ["--think-ms", "300-100"],
            "--think-ms: a number of milliseconds from 0 to 60000, or a min-max range of them with min at most max "
            "(got [300.0, 100.0])",
        ),
        (
            ["--hold-ms", "-5"],
            "--hold-ms: a number of milliseconds from 0 to 60000, or a min-max range of them with min at most max "
            "(got -5.0)",
        ),
        (["--lock-timeout-s", "0"], "--lock-timeout-s: a number of seconds above 0, at most 3600 (got 0.0)"),
        (
            ["--workers", "4"],
            "--workers: the pool size or the number of tasks, a whole number from 1 to 256, "
            "given only with --executor pool or dask (got 4)",
        ),
        (
            ["--executor", "pool", "--workers", "0"],
            "--workers: the pool size or the number of tasks, a whole number from 1 to 256, "
            "given only with --executor pool or dask (got 0)",
        ),
    ],
)
def test_cli_rejects_bad_input_with_one_line_naming_the_option(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out = run_cli("run", *argv)

    assert code == 2
    assert out == ""
    assert capsys.readouterr().err == f"ticketrush: {message}\n"


@pytest.mark.parametrize("limit", ["0", "-1", "nan", "inf", "soon"])
@pytest.mark.parametrize("command", ["run", "compare"])
def test_cli_refuses_a_time_limit_that_is_not_above_zero_before_running(
    capsys: pytest.CaptureFixture[str], command: str, limit: str
) -> None:
    with pytest.raises(SystemExit) as refused:
        run_cli(command, "--buyers", "2", "--time-limit-s", limit)

    assert refused.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"ticketrush {command}: error: argument --time-limit-s: a number of seconds above 0 (got {limit!r})"
    )


def test_cli_pool_size_with_the_pool_executor_is_used() -> None:
    code, text = run_cli(
        "run", "--buyers", "6", "--executor", "pool", "--workers", "2", "--think-ms", "0", "--hold-ms", "0", "--json"
    )

    assert code == 0
    assert json.loads(text)["config"]["workers"] == 2


OPTIONS = {
    "run": ["--buyers", "--tickets", "--store", "--strategy", "--lock", "--permits", "--max-retries", "--executor",
            "--workers", "--think-ms", "--hold-ms", "--seed", "--lock-timeout-s", "--staggered", "--time-limit-s"],
    "compare": ["--buyers", "--tickets", "--store", "--executor", "--workers", "--think-ms", "--hold-ms", "--seed",
                "--lock-timeout-s", "--staggered", "--time-limit-s"],
    "serve": ["--host", "--port"],
}  # fmt: skip


@pytest.mark.parametrize("command", list(OPTIONS))
def test_cli_help_explains_every_option_with_its_default(command: str) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "app.cli", command, "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    # argparse prints each option, then its help (on the same line or the lines below), up to the next option
    entries = re.split(r"\n  (?=-)", shown.split("options:", 1)[1])
    helps = {entry.split()[0].rstrip(","): " ".join(entry.split()) for entry in entries if entry.strip()}

    for option in OPTIONS[command]:
        text = helps[option]
        assert "(default: " in text, text
        words = text.split("(default: ")[0].split()[1:]  # after the option (and its metavar or choices)
        assert len([w for w in words if not w.isupper() and not w.startswith("{")]) >= 3, text


def test_cli_compare_interrupted_shows_the_runs_that_finished(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the whole foreground group) while the second lock runs: the first one's result stays."""
    compare = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "compare", "--buyers", "4", "--tickets", "1", "--think-ms", "0",
         "--hold-ms", "1000", "--seed", "5"],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    seen: set[str] = set()

    def second_run_started() -> bool:  # each run has a temporary folder of its own, deleted when it is done
        seen.update(p.name for p in tmp_path.glob("ticketrush-*"))
        return len(seen) >= 2

    try:
        wait_for(second_run_started, 60, "the second run to start", interval=0.02)
        os.killpg(compare.pid, signal.SIGINT)
        out, err = compare.communicate(timeout=60)
    finally:
        if compare.poll() is None:
            os.killpg(compare.pid, signal.SIGKILL)
            compare.wait(10)

    assert compare.returncode == 130, err
    assert out.splitlines()[0].split() == ["read-write/none"]
    assert any(line.startswith("read-write/none: ") for line in out.splitlines())
    assert "(seed 5)" in out
    assert out.splitlines()[-1] == (
        "(interrupted: read-write/process, read-write/file, read-write/semaphore, optimistic, seller "
        "did not run to the end)"
    )
    assert err.splitlines()[-1] == "ticketrush: interrupted; every buyer process was stopped"
    assert list(tmp_path.iterdir()) == []  # the interrupted run's folder is gone too


def test_cli_large_run_shows_a_progress_bar_instead_of_the_story() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "run",
            "--buyers",
            "400",
            "--tickets",
            "10",
            "--executor",
            "pool",
            "--lock",
            "file",
            "--think-ms",
            "0",
            "--hold-ms",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "sees" not in result.stdout
    assert "tickets remaining" in result.stdout
    # not a terminal: no redrawing, one line once every buyer is in
    assert result.stderr.splitlines() == ["[" + "#" * 40 + "] 400/400 buyers"]


def test_cli_progress_bar_is_redrawn_in_place_on_a_terminal_and_ends_its_line() -> None:
    terminal = io.StringIO()
    terminal.isatty = lambda: True  # type: ignore[method-assign]
    bar = ProgressBar(terminal, width=4)
    for finished in (0, 1, 1, 2):
        bar(finished, 2)
    bar(2, 2)  # the last figure reported again draws nothing more

    assert terminal.getvalue() == "\r[....] 0/2 buyers\r[##..] 1/2 buyers\r[####] 2/2 buyers\n"


def test_cli_run_follows_a_schedule_and_says_how_to_replay_it() -> None:
    code, text = run_cli("run", "--buyers", "2", "--tickets", "1", "--schedule", "1,2,1,2,1,2")
    assert code == 0
    assert text.splitlines()[-1] == (
        "(the steps in the order they happened: pass --schedule 1,2,1,2,1,2 to replay this run exactly)"
    )
    assert "Oversold: 2 tickets handed out for 1 seat" in text


def test_cli_step_takes_the_steps_typed_and_refuses_one_that_would_wait() -> None:
    typed = "1\n1\n2\n2\nend\n"
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "step", "--buyers", "2", "--tickets", "1", "--lock", "file"],
        input=typed, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = [line.removeprefix("> ") for line in done.stdout.splitlines()]
    assert shown[:4] == [
        "count=1; buyer 1: search; buyer 2: search",
        "count=1; buyer 1: read; buyer 2: search",
        "count=1; lock held by buyer 1; buyer 1: write; buyer 2: search",
        "count=1; lock held by buyer 1; buyer 1: write; buyer 2: read",
    ]
    assert shown[4] == "buyer 2 waits for the file lock held by buyer 1"
    assert shown[5] == "count=0; buyer 1: success; buyer 2: sold_out"
    assert "Safe: no seat sold twice" in done.stdout
