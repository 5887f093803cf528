"""The `ticketrush` command as a user types it."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest

from app.cli import ProgressBar, main

WINNER = re.compile(r"buyer \d+ got a ticket \(read")


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_cli_run_tells_the_race_like_the_lesson() -> None:
    code, text = run_cli("run", "--buyers", "10", "--tickets", "1", "--lock", "none", "--seed", "3")
    assert code == 0
    assert text.count("sees 1 ticket(s) left") == 10
    assert len(WINNER.findall(text)) >= 2  # without a lock, several buyers get the one ticket
    oversold_row = next(line for line in text.splitlines() if line.startswith("oversold"))
    assert int(oversold_row.split()[-1]) >= 1
    assert "seed 3" in text


def test_cli_run_with_a_lock_has_one_winner() -> None:
    code, text = run_cli("run", "--buyers", "10", "--tickets", "1", "--lock", "file", "--hold-ms", "20-40")
    assert code == 0
    assert len(WINNER.findall(text)) == 1
    assert len(re.findall(r"buyer \d+ found it sold out", text)) == 9


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


def test_cli_compare_puts_the_three_locks_side_by_side() -> None:
    code, text = run_cli("compare", "--buyers", "8", "--tickets", "1", "--think-ms", "20", "--hold-ms", "40-60")
    assert code == 0
    header = text.splitlines()[0].split()
    assert header == ["none", "process", "file"]
    safe_row = next(line for line in text.splitlines() if line.startswith("safe"))
    assert safe_row.split()[-3:] == ["NO", "yes", "yes"]


def test_cli_rejects_bad_input_naming_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run_cli("run", "--buyers", "0")
    assert code == 2
    assert "invalid buyers" in capsys.readouterr().err
    code, _ = run_cli("run", "--think-ms", "300-100")
    assert code == 2
    assert "invalid think_ms" in capsys.readouterr().err


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
