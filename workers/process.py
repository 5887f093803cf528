"""Buyer processes: `multiprocessing.Process` objects whose start is trimmed for a thousand short lives.

To the launcher a buyer process is an ordinary Process: start, sentinel, join, exitcode, terminate, kill,
close. What differs is what happens in the forked child. An ordinary forked Process first runs
`Process._bootstrap`, the bookkeeping that makes the child a full multiprocessing citizen: it closes stdin,
clears the finalizers and runs the after-fork hooks inherited from the parent, and at exit joins children
of its own and runs finalizers. A buyer starts no processes and needs none of it, and each of those steps
touches objects all over the inherited heap: every page touched is a copy-on-write fault
(bench section 3c measures them). A `LeanProcess` child runs its target and exits.

    process = LeanProcess(target=work, args=(...), daemon=True)
    start_untracked(process)      # see below
    process.join(timeout)
"""

from __future__ import annotations

import os
import sys
from multiprocessing.context import ForkProcess
from multiprocessing.process import BaseProcess

from workers.compat import ForkPopen, forget_child


class _LeanPopen(ForkPopen):
    """Fork, run the target, exit; the parent keeps one pipe, whose end the child holds: the sentinel."""

    def _launch(self, process_obj: BaseProcess) -> None:
        sentinel, child_end = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            code = 1
            try:
                os.close(sentinel)
                process_obj.run()
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except BaseException:
                import traceback  # only here: the launcher forks every buyer, and this module's size is in each fork

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(child_end)
        self.sentinel = sentinel

    def close(self) -> None:
        os.close(self.sentinel)


class LeanProcess(ForkProcess):
    """A forked Process whose child skips multiprocessing's bookkeeping (see the module's docstring)."""

    @staticmethod
    def _Popen(process_obj: BaseProcess) -> ForkPopen:
        return _LeanPopen(process_obj)


def start_untracked(process: BaseProcess) -> None:
    """Start `process` without leaving it on multiprocessing's list of live children.

    Process.start() first polls every process on that list (multiprocessing.process._cleanup), so starting N
    buyers that all stay alive until the start signal costs N * N / 2 waitpid calls: seconds for a thousand
    buyers. The launcher joins every process it starts itself (as they exit, or when it stops), so it does not
    need multiprocessing to track them (see workers.compat).
    """
    process.start()
    forget_child(process)
