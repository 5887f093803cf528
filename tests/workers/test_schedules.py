"""Schedules: real buyer processes take their steps in the order given, the same way every time; the model that
refuses a schedule, tells a run's schedule and counts every interleaving agrees with real runs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from workers import SimulationConfig, run_simulation
from workers.schedules import Model, Race, follow, interleavings


def outcomes(report: object) -> list[tuple[int, str, int | None, int | None]]:
    return [(r.buyer, r.outcome, r.read, r.wrote) for r in report.records]  # type: ignore[attr-defined]


def test_an_interleaved_schedule_oversells_by_one_every_time(tmp_path: Path) -> None:
    config = SimulationConfig(buyers=2, tickets=1, schedule=[1, 2, 1, 2, 1, 2])
    runs = [run_simulation(config, tmp_path / str(n)) for n in range(3)]
    for report in runs:
        assert (report.result.tickets_handed_out, report.result.oversold) == (2, 1)
        assert outcomes(report) == [(1, "success", 1, 0), (2, "success", 1, 0)]
        assert report.result.schedule == [1, 2, 1, 2, 1, 2]
        assert "Buyers 1 and 2 both read count=1 before buyer 1 wrote 0" in report.result.explanation


def test_one_buyer_at_a_time_sells_once_and_the_second_finds_it_sold_out(run_dir: Path) -> None:
    report = run_simulation(SimulationConfig(buyers=2, tickets=1, schedule=[1, 1, 1, 2, 2]), run_dir)
    assert outcomes(report) == [(1, "success", 1, 0), (2, "sold_out", 0, None)]
    assert report.result.safe and report.result.schedule == [1, 1, 1, 2, 2]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"buyers": 2, "lock": "process", "schedule": [1, 1, 2, 2]},
         "step 4 of the schedule: buyer 2 waits for the process lock held by buyer 1"),
        ({"buyers": 2, "schedule": [1, 1, 1, 1]}, "step 4 of the schedule: buyer 1 has no step left"),
        ({"buyers": 2, "schedule": [3]}, "step 1 of the schedule: there is no buyer 3 (buyers are numbered 1 to 2)"),
        ({"buyers": 2, "executor": "pool", "schedule": [1]}, "a schedule needs executor 'process'"),
        ({"buyers": 2, "strategy": "seller", "schedule": [1]},
         "a schedule steps strategy 'read-write' or 'optimistic'"),
    ],
)  # fmt: skip
def test_a_schedule_that_cannot_be_followed_is_refused_with_the_reason(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SimulationConfig.model_validate({"tickets": 1, **fields})
    (error,) = caught.value.errors()
    assert error["loc"] == ("schedule",) and reason in error["msg"]


def test_a_run_left_to_the_scheduler_can_be_replayed_exactly_from_its_result(tmp_path: Path) -> None:
    free = run_simulation(SimulationConfig(buyers=6, tickets=2, think_ms=[0, 30], hold_ms=[20, 60]), tmp_path / "a")
    schedule = free.result.schedule
    assert schedule is not None and len(schedule) == sum(3 if r.outcome == "success" else 2 for r in free.records)
    replayed = run_simulation(SimulationConfig(buyers=6, tickets=2, schedule=schedule), tmp_path / "b")
    assert outcomes(replayed) == outcomes(free)
    assert replayed.result.schedule == schedule


@pytest.mark.parametrize(("lock", "permits"), [("none", 0), ("process", 1)])
def test_every_interleaving_of_two_buyers_is_counted_and_the_witnesses_come_true(
    tmp_path: Path, lock: str, permits: int
) -> None:
    race = Race(2, 1, "read-write", "process lock" if permits else "none", permits, 100)
    counted = interleavings(race)
    if lock == "none":
        assert counted.total == 20 and [o.oversold for o, _, _ in counted.outcomes] == [1, 0]  # some, not all
    else:
        assert counted.total == 8 and [o.oversold for o, _, _ in counted.outcomes] == [0]  # under a lock: none
    for n, (outcome, _, witness) in enumerate(counted.outcomes):
        real = run_simulation(SimulationConfig(buyers=2, tickets=1, lock=lock, schedule=witness), tmp_path / str(n))
        assert (real.result.oversold, real.result.tickets_handed_out, real.result.tickets_remaining) == outcome


def _random_schedule(race: Race, seed: int) -> list[int]:
    """A random complete schedule the model accepts: at each point, any buyer who can step."""
    rng = random.Random(seed)
    model = Model.start(race)
    schedule = []
    while runnable := [b for b in model.buyers if not model.done(b) and model.blocker(b) is None]:
        buyer = rng.choice(runnable)
        model.take(buyer)
        schedule.append(buyer)
    return schedule


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    buyers=st.integers(1, 4),
    tickets=st.integers(0, 3),
    cure=st.sampled_from([("read-write", "none"), ("read-write", "file"), ("optimistic", "none")]),
    seed=st.integers(0, 2**32),
)
def test_real_buyers_follow_any_schedule_as_the_model_does(
    tmp_path: Path, buyers: int, tickets: int, cure: tuple[str, str], seed: int
) -> None:
    strategy, lock = cure
    config = SimulationConfig(buyers=buyers, tickets=tickets, strategy=strategy, lock=lock, schedule=[1])
    schedule = _random_schedule(config.race(), seed)
    _, model = follow(config.race(), schedule)
    report = run_simulation(config.model_copy(update={"schedule": schedule}), tmp_path / f"{seed}-{buyers}")
    expected = [(b, s.outcome, s.read, s.wrote) for b, s in sorted(model.buyers.items())]
    assert outcomes(report) == expected
    assert report.result.tickets_remaining == model.count
