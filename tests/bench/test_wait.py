"""Section 0's machinery: the user's wait through a real server, beside the lesson and the floor, in one run."""

from __future__ import annotations

from bench.procs import run_module


def test_wait_measures_each_run_from_post_to_completed_beside_the_lessons_and_the_floor() -> None:
    data = run_module("bench.wait", ["--runs", "1", "--flash", "20000"], timeout_s=300)

    runs = {"fixed": 100, "fixed_back_to_back": 100, "lesson_10": 1, "process_1000": 100, "pool_20000": 2000}
    for name, sold in runs.items():
        row = data[name]
        assert row["wait_s"] > row["race_s"] > 0, name  # the race is part of what the user waits
        assert abs(row["wait_s"] - row["race_s"] - row["outside_s"]) < 0.001, name
        assert row["setup_s"] > 0 and row["rest_s"] > 0, name  # the buyers are forked before the race
        assert abs(row["setup_s"] + row["rest_s"] - row["outside_s"]) < 0.001, name
        assert (row["sold"], row["oversold"], row["safe"]) == (sold, 0, 1), name
    flash = data["pool_20000"]  # its 20,000 records downloaded as CSV, every one (bench.wait counts them)
    assert 0 < flash["csv_first_byte_s"] <= flash["csv_s"]
    assert "csv_s" not in data["fixed"]
    assert data["lesson_10_own"]["sold"] == 1 and data["process_1000_lesson"]["sold"] == 100
    assert data["lesson_10_own"]["race_s"] >= 0.1  # it thinks 100 ms and holds 100-300 ms, as the lesson does
    assert 0 < data["process_1000_floor"]["forks_s"] <= data["process_1000_floor"]["wait_s"]
