"""Peak memory of a process tree: the sum of PSS (proportional set size) over a process and every descendant.

PSS splits each shared page among the processes that map it, so the sum over a tree counts every page once:
a thousand forked buyers sharing their parent's pages add only what each one copied or allocated.

    with PeakPss(pid) as peak:
        ...                       # sampled every `interval_s` in a thread while this runs
    peak.kib, peak.processes
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

import psutil  # type: ignore[import-untyped]


def pss_kib(pid: int) -> int:
    """PSS of one process in KiB, from /proc/<pid>/smaps_rollup (0 if it has gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def tree_pss_kib(root: int) -> tuple[int, int]:
    """(total PSS in KiB, number of processes) of `root` and its descendants right now."""
    try:
        pids = [root, *(child.pid for child in psutil.Process(root).children(recursive=True))]
    except psutil.NoSuchProcess:
        return 0, 0
    return sum(pss_kib(pid) for pid in pids), len(pids)


class PeakPss:
    def __init__(self, root: int, interval_s: float = 0.05) -> None:
        self.root = root
        self.interval_s = interval_s
        self.kib = 0
        self.processes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="pss-sampler", daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            kib, processes = tree_pss_kib(self.root)
            self.samples += 1
            if kib > self.kib:
                self.kib, self.processes = kib, processes
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakPss:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
