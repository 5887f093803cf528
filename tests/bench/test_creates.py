from __future__ import annotations

from pathlib import Path

from bench.creates import mean_create_us, measure


def test_timing_creates_leaves_the_folder_as_it_found_it(tmp_path: Path) -> None:
    (tmp_path / "db.json").write_text('{"count": 1}')
    assert mean_create_us(tmp_path, 200) > 0
    assert [p.name for p in tmp_path.iterdir()] == ["db.json"]


def test_the_creates_benchmark_times_both_and_removes_its_folders(tmp_path: Path) -> None:
    result = measure(100, 0, tmp_path)
    assert result["files"] == 100 and result["process_runs"] == 0
    assert isinstance(result["create_before_us"], float) and result["create_before_us"] > 0
    assert isinstance(result["create_after_us"], float) and result["create_after_us"] > 0
    assert result["journal"] in (True, False, None)
    assert list(tmp_path.iterdir()) == []
