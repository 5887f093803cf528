"""The `ticketrush` command as a user types it."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from live_server import processes_marked, wait_for

from app import cli
from app.cli import ProgressBar, main
from workers import RunReport, run_simulation

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
        "run", "--buyers", "6", "--tickets", "2", "--lock", "process", "--think-ms", "0", "--hold-ms", "5", "--seed",
        "41", "--json",
    )  # fmt: skip
    assert code == 0
    report = json.loads(text)
    expected = {
        "buyers": 6,
        "tickets": 2,
        "lock": "process",
        "executor": "process",
        "workers": None,
        "think_ms": 0.0,
        "hold_ms": 5.0,
        "seed": 41,
        "together": True,
        "lock_timeout_s": 30.0,
    }
    assert {field: report["config"][field] for field in expected} == expected
    result = report["result"]
    assert (result["buyers_succeeded"], result["buyers_sold_out"], result["tickets_remaining"]) == (2, 4, 0)
    assert result["safe"] is True and result["oversold"] == 0


def test_cli_compare_puts_every_cure_of_the_file_store_side_by_side() -> None:
    code, text = run_cli(
        "compare", "--buyers", "8", "--tickets", "1", "--think-ms", "0", "--hold-ms", "400", "--store", "file"
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
                         "--hold-ms", "400", "--json")  # fmt: skip
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
        [sys.executable, "-m", "app.cli", command, "--help"],
        capture_output=True, text=True, timeout=60, check=True, env={**os.environ, "LANG": "en_US.UTF-8"},
    ).stdout  # fmt: skip
    # argparse prints each option, then its help (on the same line or the lines below), up to the next option
    entries = re.split(r"\n  (?=-)", shown.split("options:", 1)[1])
    helps = {entry.split()[0].rstrip(","): " ".join(entry.split()) for entry in entries if entry.strip()}

    for option in OPTIONS[command]:
        text = helps[option]
        assert "(default: " in text, text
        words = text.split("(default: ")[0].split()[1:]  # after the option (and its metavar or choices)
        assert len([w for w in words if not w.isupper() and not w.startswith("{")]) >= 3, text


def at_a_terminal(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """`python -m app.cli *argv` in a session of its own, started with SIGINT not ignored, as at a terminal: a
    test run started as a shell's background job has SIGINT ignored, and a child inherits an ignored signal (a
    handled one is back to the default at exec)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", *argv],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)


def test_cli_compare_interrupted_shows_the_runs_that_finished(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the whole foreground group) while the second lock runs: the first one's result stays."""
    compare = at_a_terminal(
        ["compare", "--buyers", "4", "--tickets", "1", "--think-ms", "0", "--hold-ms", "1000", "--seed", "5"],
        {"TMPDIR": str(tmp_path)},
    )
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


def test_cli_workers_sets_how_many_processes_share_the_buyers(monkeypatch: pytest.MonkeyPatch) -> None:
    reports: list[RunReport] = []

    def run_and_keep(*args: Any, **kwargs: Any) -> RunReport:
        reports.append(run_simulation(*args, **kwargs))
        return reports[-1]

    monkeypatch.setattr(cli, "run_simulation", run_and_keep)
    code, text = run_cli(
        "run", "--buyers", "12", "--tickets", "12", "--executor", "pool", "--workers", "3", "--lock", "file",
        "--think-ms", "0", "--hold-ms", "0", "--json",
    )  # fmt: skip

    assert code == 0
    assert json.loads(text)["config"]["workers"] == 3
    (report,) = reports
    assert len({r.pid for r in report.records}) == 3  # the buyers' records come from three processes
    assert report.result.buyers_succeeded == 12


def test_cli_staggered_releases_no_start_line() -> None:
    common = ("run", "--buyers", "5", "--tickets", "3", "--lock", "file", "--think-ms", "0", "--hold-ms", "0")

    together = json.loads(run_cli(*common, "--json")[1])
    staggered = json.loads(run_cli(*common, "--staggered", "--json")[1])

    assert together["config"]["together"] is True
    assert staggered["config"]["together"] is False
    assert (staggered["result"]["buyers_succeeded"], staggered["result"]["buyers_sold_out"]) == (3, 2)


def test_cli_lock_timeout_fails_a_buyer_that_waits_longer_naming_the_lock() -> None:
    # two buyers released together; one holds the lock for 1.5 s, the other gives up after 0.3 s
    code, text = run_cli(
        "run", "--buyers", "2", "--tickets", "2", "--lock", "process", "--think-ms", "0", "--hold-ms", "1500",
        "--lock-timeout-s", "0.3",
    )  # fmt: skip

    assert code == 0
    # the story tells what became of each of the two buyers, the one who gave up too, and why
    assert len(re.findall(r"buyer \d+ (.* )?gave up after waiting 0\.3 s for the process lock$", text, re.M)) == 1
    assert len(WINNER.findall(text)) == 1
    assert (row(text, "buyers who gave up"), row(text, "buyers who failed"), row(text, "tickets remaining")) == (
        "1",
        "0",
        "1",
    )


def test_cli_time_limit_stops_the_run_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    code, text = run_cli("run", "--buyers", "3", "--think-ms", "60000", "--hold-ms", "0", "--time-limit-s", "1")
    took = time.monotonic() - started

    assert code == 1
    assert capsys.readouterr().err == "ticketrush: the run went past its time limit of 1 s\n"
    assert text == ""
    assert took < 30  # not the buyers' minute of thinking
    assert [p for p in psutil.Process().children(recursive=True) if p.is_running()] == []


def test_cli_compare_json_holds_each_cure_with_one_seed() -> None:
    code, text = run_cli(
        "compare", "--buyers", "8", "--tickets", "1", "--think-ms", "20", "--hold-ms", "40,60", "--seed", "7",
        "--json",
    )  # fmt: skip

    assert code == 0
    reports = json.loads(text)
    cures = ["read-write/none", "read-write/process", "read-write/file", "read-write/semaphore", "optimistic", "seller"]
    assert list(reports) == cures
    assert {r["config"]["seed"] for r in reports.values()} == {7}
    assert {r["config"]["hold_ms"] == [40.0, 60.0] for r in reports.values()} == {True}
    assert reports["read-write/none"]["result"]["oversold"] >= 1 and not reports["read-write/none"]["result"]["safe"]
    assert reports["read-write/semaphore"]["result"]["tickets_handed_out"] == 3  # its 3 permits let 3 buyers in
    for cure in ("read-write/process", "read-write/file", "optimistic", "seller"):
        result = reports[cure]["result"]
        assert (result["buyers_succeeded"], result["oversold"], result["safe"]) == (1, 0, True), cure


@pytest.mark.parametrize(
    ("think", "hold", "expected"),
    [
        ("0,2", "1,3", ([0.0, 2.0], [1.0, 3.0])),
        ("0-2", "1-3", ([0.0, 2.0], [1.0, 3.0])),
        ("2", "1.5", (2.0, 1.5)),
    ],
    ids=["comma", "dash", "single"],
)
def test_cli_delays_take_a_number_or_a_range(think: str, hold: str, expected: tuple[object, object]) -> None:
    code, text = run_cli("run", "--buyers", "2", "--tickets", "1", "--think-ms", think, "--hold-ms", hold, "--json")

    assert code == 0
    config = json.loads(text)["config"]
    assert (config["think_ms"], config["hold_ms"]) == expected


@pytest.mark.parametrize("group", [True, False], ids=["ctrl-c-at-a-terminal", "sigint-to-the-cli-alone"])
def test_cli_ctrl_c_exits_130_with_every_buyer_stopped(tmp_path: Path, group: bool) -> None:
    """At a terminal Ctrl-C sends SIGINT to the whole foreground group (the CLI, the launcher, the buyers);
    `kill -INT` sends it to the CLI alone. Either way every buyer process is gone by the time it exits."""
    mark = tmp_path / "mark"  # every process of the run inherits it, so a scan finds any left behind
    cli_process = at_a_terminal(
        ["run", "--buyers", "20", "--think-ms", "60000", "--hold-ms", "0"], {"TICKETRUSH_DATA_DIR": str(mark)}
    )
    try:
        me = psutil.Process(cli_process.pid)
        wait_for(lambda: len(me.children(recursive=True)) >= 21, 60, "the launcher and its 20 buyers")

        if group:
            os.killpg(cli_process.pid, signal.SIGINT)
        else:
            cli_process.send_signal(signal.SIGINT)
        out, err = cli_process.communicate(timeout=30)
    finally:
        if cli_process.poll() is None:
            os.killpg(cli_process.pid, signal.SIGKILL)
            cli_process.communicate()

    assert cli_process.returncode == 130
    assert err == "ticketrush: interrupted; every buyer process was stopped\n"
    assert out == ""
    assert processes_marked(mark) == []  # at once: the message says they were stopped


def row(text: str, label: str) -> str:
    """The value of one row of the result table."""
    line = next(line for line in text.splitlines() if line.startswith(label))
    return line.removeprefix(label).strip()


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


def test_the_ticketrush_command_runs_and_a_run_process_started_from_it_imports_no_command_line() -> None:
    script = Path(sys.executable).with_name("ticketrush")  # the command `make run` runs
    shown = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "serve" in shown
    # multiprocessing starts a run process ("spawn") by running the server's script again as __mp_main__
    again = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__mp_main__'); print('app.cli' in sys.modules)"
    imported = subprocess.run(
        [sys.executable, "-c", again, str(script)], capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    assert imported == "False"  # the command line's imports (asyncio, ssl, argparse...) stay out of every run
