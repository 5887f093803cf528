"""Section 7's machinery: an experiment and the same runs posted one at a time, measured against a real server.

Not a timed test: it checks that both sides ran the same runs and that the figures add up.
"""

from __future__ import annotations

from bench.server import Server, experiment_vs_runs


def test_experiment_vs_runs_measures_both_sides_on_the_same_runs() -> None:
    with Server() as server:
        measured = experiment_vs_runs(server, {"buyers": 2, "tickets": 1, "think_ms": 0}, values=1, trials=2)

    for side in ("experiment", "runs"):
        row = measured[side]
        assert row["runs"] == 2, side
        assert 0 < row["in_runs_s"] <= row["wall_s"], side
        assert row["gap_p50_ms"] >= 0, side  # the second run started after the first had finished
    assert measured["get_experiment_p50_ms"] > 0 and measured["get_simulation_p50_ms"] > 0
