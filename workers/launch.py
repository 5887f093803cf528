"""Starting a launcher (workers.launcher), from the coordinator's side: for a run, or ahead of need.

    process = start_launcher(launcher_end, results.writer)  # the launcher's end of a Pipe, the channel's write end
    ready = ReadyLauncher(job_timeout_s=60)                 # started before its run is known (see app.standby)

Kept apart from the launcher's own module, which the launcher process imports: subprocess and multiprocessing,
which starting one needs, would weigh on every buyer it forks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path

from workers.channel import RecordChannel
from workers.launcher import JOB_TIMEOUT_S, STOP_GRACE_S


def start_launcher(
    link: Connection, results_writer: int, *, site_packages: bool = False, job_timeout_s: float = JOB_TIMEOUT_S
) -> subprocess.Popen[bytes]:
    """Start a launcher that talks over `link` (its end of a Pipe) and gives its buyers `results_writer`.

    `site_packages`: the buyers need installed packages (a database client), so the caller's site-packages
    folders are put on the launcher's path too (after the engine's own folder). The launcher exits if no job
    comes within `job_timeout_s`.
    """
    package_root = str(Path(__file__).resolve().parent.parent)  # found without site-packages, hence -S
    extra = [p for p in sys.path if p.endswith("-packages")] if site_packages else []
    path = os.pathsep.join(filter(None, [package_root, *extra, os.environ.get("PYTHONPATH")]))
    command = [
        sys.executable,
        "-S",
        "-P",
        "-m",
        "workers.launcher",
        str(os.getpid()),
        str(link.fileno()),
        str(results_writer),
        str(job_timeout_s),
    ]
    return subprocess.Popen(
        command,
        pass_fds=(link.fileno(), results_writer),
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": path},
    )


class ReadyLauncher:
    """A launcher started before its run is known, waiting for its job: its link, the result channel whose write
    end it holds, and its process. A process that waits to run a simulation keeps one, so that the run finds its
    launcher started and its modules imported (see app.standby). The run that uses it reaps it; `close` ends one
    that no run took."""

    def __init__(self, job_timeout_s: float, *, site_packages: bool = False) -> None:
        self.site_packages = site_packages
        self.results = RecordChannel.open()
        self.link, launcher_end = Pipe()
        assert self.results.writer is not None
        try:
            self.process = start_launcher(
                launcher_end, self.results.writer, site_packages=site_packages, job_timeout_s=job_timeout_s
            )
        except BaseException:
            self.link.close()
            self.results.close()
            raise
        finally:
            launcher_end.close()
            self.results.close_writer()  # only the launcher and its buyers write

    def usable(self, site_packages: bool) -> bool:
        """Still waiting for its job, with the packages a run of this store needs on its path."""
        return self.process.poll() is None and (self.site_packages or not site_packages)

    def close(self) -> None:
        """Close its ends: a launcher waiting for a job exits at once; wait for it (and kill it if it lingers)."""
        self.link.close()
        self.results.close()
        try:
            self.process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_GRACE_S)
