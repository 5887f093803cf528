"""Real runs: what the result says about them is true of their records."""

from __future__ import annotations

from pathlib import Path

from workers import SimulationConfig, run_simulation


def test_buyers_who_give_up_on_the_lock_are_counted_not_failed(tmp_path: Path) -> None:
    """One buyer holds the process lock for a second; the other nine wait 50 ms for it and give up."""
    config = SimulationConfig(buyers=10, tickets=1, lock="process", think_ms=0, hold_ms=1000, lock_timeout_s=0.05)
    report = run_simulation(config, tmp_path / "run")
    result = report.result
    gave_up = [r for r in report.records if r.outcome == "gave_up"]
    assert len(gave_up) == result.buyers_gave_up == 9 and result.buyers_errored == 0
    for r in gave_up:
        assert r.error == "gave up after waiting 0.05 s for the process lock"
        assert r.t_lock_requested is not None and r.t_lock_acquired is None and r.t_end is not None
        assert r.t_end - r.t_lock_requested >= 50_000_000
    assert result.lock_wait_p50_ms >= 50 and result.lock_wait_max_ms >= 50
    assert result.verdict == "No seat sold twice, but 9 of 10 buyers gave up waiting for the process lock"
    assert sum(b.buyers for b in result.lock_wait_histogram) == 10
    assert sum(b.gave_up for b in result.lock_wait_histogram) == 9
