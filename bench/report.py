"""The printed table, the machine it ran on, and the goals judged against the measurements."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        if len(cells) != len(self.headers):
            raise ValueError(f"{len(cells)} cells for {len(self.headers)} columns in {self.title!r}")
        self.rows.append(list(cells))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def render(self) -> str:
        widths = [max(len(row[i]) for row in [self.headers, *self.rows]) for i in range(len(self.headers))]
        lines = [self.title]
        for n, row in enumerate([self.headers, *self.rows]):
            first, *rest = row
            cells = [first.ljust(widths[0]), *(cell.rjust(w) for cell, w in zip(rest, widths[1:], strict=True))]
            lines.append("  " + "  ".join(cells).rstrip())
            if n == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        lines.extend(f"  ({note})" for note in self.notes)
        return "\n".join(lines)


@dataclass
class Goal:
    text: str
    measured: str
    met: bool | None  # None: not judged (a --quick run uses other sizes)

    def render(self) -> str:
        mark = "not judged" if self.met is None else "met" if self.met else "MISSED"
        return f"  [{mark}] {self.text}: {self.measured}"


def _mount_of(path: str) -> str:
    """The file system type and mount point that hold `path`."""
    best = ("?", "/")
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return "unknown"
    real = os.path.realpath(path)
    for line in mounts:
        fields = line.split()
        if len(fields) < 3 or len(fields[1]) < len(best[1]):
            continue
        if real == fields[1] or real.startswith(fields[1].rstrip("/") + "/"):
            best = (fields[2], fields[1])
    return f"{best[0]} ({best[1]})"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> float:
    return os.getloadavg()[0]


def machine(run_folder: str | None) -> dict[str, Any]:
    folder = run_folder or tempfile.gettempdir()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "run_folders": f"{folder} on {_mount_of(folder)}",
    }
