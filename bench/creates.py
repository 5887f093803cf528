"""What creating a file costs in a run's folder, now and after runs of process buyers.

    python -m bench.creates --files 3000 --after 2 --dir data

Every sale creates a fresh db file (workers.db: `stage`, an open with O_CREAT | O_EXCL) and deletes the one it
replaced. This times such creates, each followed by a delete as a sale's, in a new folder under `--dir`: first
at once, then again after `--after` engine runs of 1,000 process buyers (file lock, zero delays) in another
folder beside it. Prints one JSON object: the mean create, in microseconds, before and after the runs, and
whether the folder's file system is ext4 with a journal (None where that cannot be told). ext4 without a journal
passes over inodes deleted in the last seconds when it picks one for a new file (`recently_deleted` in the
kernel's fs/ext4/ialloc.c), so there the figure moves with what was deleted just before, by anyone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from workers import SimulationConfig, run_simulation

PROCESS_RUN = SimulationConfig(buyers=1000, tickets=100, lock="file", executor="process", think_ms=0, hold_ms=0)


def mean_create_us(folder: Path, files: int) -> float:
    """The mean time, in microseconds, of creating a new file (then deleting it, as a sale does) in `folder`."""
    name = str(folder / "db.json.tmp")
    spent = 0.0
    for _ in range(files):
        started = time.perf_counter()
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        spent += time.perf_counter() - started
        os.close(fd)
        os.unlink(name)
    return round(spent / files * 1e6, 1)


def journaled(folder: Path) -> bool | None:
    """Whether the ext4 file system holding `folder` keeps a journal; None if it is not ext4 or cannot be told."""
    device = os.stat(folder).st_dev
    name = f"{os.major(device)}:{os.minor(device)}"
    for entry in Path("/sys/fs/ext4").glob("*"):
        try:
            if (Path("/sys/dev/block") / name).resolve().name != entry.name:
                continue
            return (entry / "journal_task").read_text().strip() != "<none>"
        except OSError:
            return None
    return None


def measure(files: int, after: int, base: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="ticketrush-creates-", dir=base) as folder:
        root = Path(folder)
        (root / "before").mkdir()
        before = mean_create_us(root / "before", files)
        for n in range(after):
            run_simulation(PROCESS_RUN, root / f"run-{n}")
        (root / "after").mkdir()
        after_runs = mean_create_us(root / "after", files)
        return {
            "files": files,
            "process_runs": after,
            "create_before_us": before,
            "create_after_us": after_runs,
            "journal": journaled(root),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.creates", description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--after", type=int, default=2, help="runs of 1,000 process buyers before the second timing")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the folders go (default: the temp folder)")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.files, args.after, Path(args.dir))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
