from __future__ import annotations

from bench.forkweight import measure


def test_the_fork_weight_benchmark_forks_from_each_weight_and_threading_only_comes_with_multiprocessing() -> None:
    result = measure(forks=20, rounds=1)
    variants = {name: result[name] for name in ("bare", "file-lock launcher", "with multiprocessing")}
    assert result["with a pipe per child"]["threading"] is False
    assert {name: v["threading"] for name, v in variants.items()} == {
        "bare": False,
        "file-lock launcher": False,
        "with multiprocessing": True,
    }
    assert all(v["fork_s"] > 0 and v["reap_s"] > 0 for v in variants.values())
    anon = [v["anon_kb"] for v in variants.values()]
    assert anon == sorted(anon)  # each set weighs more than the one before it
