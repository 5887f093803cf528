"""Experiments in the engine: points checked up front, trials in rounds with one seed each, the spread of figures."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from workers import Result
from workers.experiments import (
    ExperimentInvalid,
    ExperimentSpec,
    Outcome,
    csv_header,
    csv_rows,
    label,
    plan,
    run_experiment,
    spec_problems,
    spread,
    summarise,
)


def spec(field: str, values: list[Any], trials: int = 3, **config: Any) -> ExperimentSpec:
    return ExperimentSpec.model_validate(
        {"config": config, "trials": trials, "vary": {"field": field, "values": values}}
    )


def refusals(experiment: ExperimentSpec) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ExperimentInvalid) as caught:
        plan(experiment)
    return [(p.loc, p.message) for p in caught.value.problems]


def result(oversold: int, lost_updates: int, sales_per_second: float) -> Result:
    """A result of one ticket, with the figures an experiment reads of it (the rest plays no part)."""
    return Result.model_construct(
        oversold=oversold,
        lost_updates=lost_updates,
        sales_per_second=sales_per_second,
        tickets_handed_out=1 + oversold,
        tickets_sold=1 + oversold - lost_updates,
        max_in_critical=1 + oversold,
        duration_ms=80.0,
    )


def test_experiment_plan_runs_every_value_once_a_round_with_one_seed_per_round() -> None:
    experiment = plan(spec("hold_ms", [0, 10, [100, 300]], trials=2, buyers=4, seed=7))

    assert experiment.values == (0.0, 10.0, [100.0, 300.0])
    assert [(t.point, t.number, t.config.seed, t.config.hold_ms) for t in experiment.trials()] == [
        (0, 1, 7, 0.0),
        (1, 1, 7, 10.0),
        (2, 1, 7, [100.0, 300.0]),
        (0, 2, 8, 0.0),
        (1, 2, 8, 10.0),
        (2, 2, 8, [100.0, 300.0]),
    ]
    assert {t.config.buyers for t in experiment.trials()} == {4}


def test_experiment_plan_chooses_a_seed_when_none_is_given() -> None:
    experiment = plan(spec("buyers", [1, 2], trials=2))

    assert 0 <= experiment.seed < 2**53
    assert [t.config.seed for t in experiment.trials()] == [experiment.seed] * 2 + [experiment.seed + 1] * 2


@pytest.mark.parametrize(
    ("experiment", "expected"),
    [
        (
            spec("seed", [1, 2]),
            [
                (
                    ("vary", "field"),
                    "vary.field: 'seed' cannot be varied (trials repeat a point with seeds seed, seed + 1, ...); "
                    "vary buyers, tickets, hold_ms, think_ms, permits, workers, lock, strategy, store or executor",
                )
            ],
        ),
        (
            spec("colour", ["red"]),
            [
                (
                    ("vary", "field"),
                    "vary.field: 'colour' is not a setting of a simulation; vary buyers, tickets, hold_ms, think_ms, "
                    "permits, workers, lock, strategy, store or executor",
                )
            ],
        ),
        (
            spec("hold_ms", [10, -5]),
            [
                (
                    ("vary", "values", 1),
                    "hold_ms: a number of milliseconds from 0 to 60000, or a [min, max] range of them with min at "
                    "most max (got -5)",
                )
            ],
        ),
        (
            spec("lock", ["none", "process"], strategy="optimistic"),
            [
                (
                    ("vary", "values", 1),
                    "lock: lock 'process' guards strategy 'read-write' only; strategy 'optimistic' takes no lock "
                    "(use lock 'none', or strategy 'read-write' with lock 'process')",
                )
            ],
        ),
        (
            spec("strategy", ["read-write", "optimistic"], lock="file"),
            [
                (
                    ("vary", "values", 1),
                    "with strategy optimistic: lock: lock 'file' guards strategy 'read-write' only; strategy "
                    "'optimistic' takes no lock (use lock 'none', or strategy 'read-write' with lock 'file')",
                )
            ],
        ),
        (
            spec("buyers", [5, 5.0]),
            [(("vary", "values", 1), "buyers: a whole number of buyers from 1 to 10,000,000 (got 5.0)")],
        ),
        (spec("hold_ms", [10, 10.0]), [(("vary", "values", 1), "hold_ms: 10 is given twice (as value 1 and value 2)")]),
        (spec("hold_ms", []), [(("vary", "values"), "vary.values: from 1 to 1,000 values of hold_ms (got 0)")]),
        (
            spec("hold_ms", [1], trials=0),
            [(("trials",), "trials: a whole number of trials for each value, from 1 to 1,000 (got 0)")],
        ),
        (
            spec("hold_ms", [1], hold_ms=5),
            [(("config", "hold_ms"), "hold_ms: vary sets it, one value per point; leave it out of the config")],
        ),
        (
            spec("hold_ms", [0, 10], mode="step"),
            [
                (
                    ("config", "mode"),
                    "mode: an experiment runs its trials by themselves, and step mode waits for each step to be asked "
                    "for; leave mode 'run'",
                )
            ],
        ),
        (
            spec("buyers", [1], trials=2, seed=2**63 - 1),
            [
                (
                    ("config", "seed"),
                    "seed: trial k runs with seed + k - 1, so with 2 trials the seed is at most 9223372036854775806 "
                    "(got 9223372036854775807)",
                )
            ],
        ),
    ],
)
def test_experiment_plan_refusal_names_the_field(
    experiment: ExperimentSpec, expected: list[tuple[tuple[str | int, ...], str]]
) -> None:
    assert refusals(experiment) == expected


def test_experiment_plan_tells_a_config_problem_once_not_once_per_value() -> None:
    (buyers, tikets) = refusals(spec("hold_ms", [0, 10, 50], buyers=0, tikets=1))

    assert buyers == (("config", "buyers"), "buyers: a whole number of buyers from 1 to 10,000,000 (got 0)")
    assert tikets[0] == ("config", "tikets")
    assert tikets[1].startswith("tikets: not a setting of a simulation (the settings are buyers, tickets, store,")


def test_experiment_spec_problems_say_what_each_part_takes() -> None:
    with pytest.raises(ValidationError) as caught:
        ExperimentSpec.model_validate({"config": [], "trials": True, "vary": {"field": 3, "vals": [1]}, "runs": 2})

    assert [(p.loc, p.message) for p in spec_problems(caught.value)] == [
        (("config",), "config: an object of simulation settings ({} for every default) (got [])"),
        (("trials",), "trials: a whole number of trials for each value, from 1 to 1,000 (got true)"),
        (
            ("vary", "field"),
            "vary.field: the name of the setting to vary: buyers, tickets, hold_ms, think_ms, permits, workers, lock, "
            "strategy, store or executor (got 3)",
        ),
        (("vary", "values"), "vary.values: missing; give a list of the values to try, one point each"),
        (("vary", "vals"), "vary.vals: not part of vary (it takes field and values)"),
        (("runs",), "runs: not part of an experiment (it takes config, trials and vary)"),
    ]


@given(st.lists(st.floats(min_value=0, max_value=1e9), min_size=1, max_size=50))
def test_experiment_spread_is_the_lowest_the_median_and_the_highest(numbers: list[float]) -> None:
    found = spread(numbers)

    assert found is not None
    assert (found.min, found.median, found.max) == (min(numbers), statistics.median(numbers), max(numbers))
    assert found.min <= found.median <= found.max


def test_experiment_summary_counts_only_completed_trials() -> None:
    outcomes = [
        Outcome(0, 1, "a1", "completed", 7, result(0, 0, 10.0)),
        Outcome(1, 1, "b1", "completed", 7, result(9, 9, 20.0)),
        Outcome(0, 2, "a2", "completed", 8, result(2, 2, 30.0)),
        Outcome(1, 2, "b2", "failed", 8, None),
        Outcome(0, 3, "a3", "completed", 9, result(2, 1, 50.0)),
        Outcome(1, 3, "b3", "queued", 9, None),
    ]

    first, second = summarise([0.0, [100.0, 300.0]], outcomes)

    assert (first.label, first.trials, first.completed) == ("0", ["a1", "a2", "a3"], 3)
    assert first.oversold is not None and first.oversold.model_dump() == {"min": 0, "median": 2, "max": 2}
    assert first.lost_updates is not None and first.lost_updates.model_dump() == {"min": 0, "median": 1, "max": 2}
    assert first.sales_per_second is not None and first.sales_per_second.median == 30.0
    assert [(c.oversold, c.trials) for c in first.oversold_histogram] == [(0, 1), (2, 2)]
    assert (second.label, second.trials, second.completed) == ("100-300", ["b1", "b2", "b3"], 1)
    assert second.oversold is not None and second.oversold.model_dump() == {"min": 9, "median": 9, "max": 9}


def test_experiment_summary_of_a_value_with_no_completed_trial_has_no_figures() -> None:
    (point,) = summarise([5], [Outcome(0, 1, "x", "running", 1, None)])

    assert (point.completed, point.oversold, point.sales_per_second, point.oversold_histogram) == (0, None, None, [])


def test_experiment_csv_has_one_row_per_trial_and_no_figures_for_an_unfinished_one() -> None:
    outcomes = [
        Outcome(0, 1, "a1", "completed", 7, result(3, 3, 12.5)),
        Outcome(1, 1, "b1", "cancelled", 7, None),
    ]
    rows = csv_rows([50.0, [1.0, 2.5]], outcomes)

    assert csv_header("hold_ms")[:6] == ["hold_ms", "trial", "id", "status", "seed", "oversold"]
    assert rows[0] == ["50", 1, "a1", "completed", 7, 3, 3, 12.5, 4, 1, 4, 80.0]
    assert rows[1] == ["1-2.5", 1, "b1", "cancelled", 7, "", "", "", "", "", "", ""]
    assert all(len(row) == len(csv_header("hold_ms")) for row in rows)


@pytest.mark.parametrize(
    ("value", "shown"), [(50.0, "50"), (0.5, "0.5"), ([100.0, 300.0], "100-300"), ("file", "file")]
)
def test_experiment_label_writes_a_value_as_a_person_would(value: Any, shown: str) -> None:
    assert label(value) == shown


def test_run_experiment_runs_each_trial_in_turn_and_keeps_no_run_folder(tmp_path: Path) -> None:
    # Released together with a 100 ms window between read and write, every unguarded buyer reads the one ticket.
    experiment = plan(spec("lock", ["none", "file"], trials=2, buyers=3, tickets=1, think_ms=0, hold_ms=100))
    heard: list[Outcome] = []

    outcomes = run_experiment(experiment, tmp_path, on_trial=heard.append)

    assert heard == outcomes
    assert [(o.point, o.number, o.seed) for o in outcomes] == [
        (0, 1, experiment.seed),
        (1, 1, experiment.seed),
        (0, 2, experiment.seed + 1),
        (1, 2, experiment.seed + 1),
    ]
    unguarded, guarded = summarise(experiment.values, outcomes)
    assert unguarded.oversold is not None and unguarded.oversold.model_dump() == {"min": 2, "median": 2, "max": 2}
    assert guarded.oversold is not None and guarded.oversold.model_dump() == {"min": 0, "median": 0, "max": 0}
    assert list(tmp_path.iterdir()) == []
