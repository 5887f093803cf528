"""The floor under a run of process buyers: fork and reap N bare processes from an interpreter of the least weight.

    python -S -m bench.floor --forks 1000     (run by bench.wait with -S: no site, nothing imported but os)
    python -S -P -m bench.floor --forks 1000 --start-line --imports workers.launcher   (run by bench.forkweight)

Each child only exits (`os._exit(0)`); the parent forks them all, then waits for each. What the kernel and a
bare interpreter need for N processes, against which the engine's buyers (which also read, lock and write the
db) can be weighed. `--start-line`: each child first waits at one pipe, as buyers wait at the start line, and
one byte releases them all once every one is forked. `--imports`: modules to import before forking (the weight
of the forking process). `--sentinels`: the forker keeps a pipe per child open, as a multiprocessing Process's
sentinel, so each child inherits those of the children forked before it. Prints one JSON object: the seconds to
fork them all and to reap them, the forker's anonymous memory, and whether threading was imported.
"""

import json
import os
import select
import sys
import time


def _option(argv: list[str], name: str, default: str) -> str:
    return argv[argv.index(name) + 1] if name in argv else default


def _anon_kb() -> int | None:
    with open("/proc/self/status") as f:
        return next((int(line.split()[1]) for line in f if line.startswith("RssAnon:")), None)


def main(argv: list[str]) -> int:
    forks = int(_option(argv, "--forks", "1000"))
    for module in filter(None, _option(argv, "--imports", "").split(",")):
        __import__(module)
    line_r, line_w = os.pipe()
    start_line = "--start-line" in argv
    sentinels = "--sentinels" in argv
    kept = []
    started = time.perf_counter()
    children = []
    for _ in range(forks):
        if sentinels:
            kept.append(os.pipe())
        pid = os.fork()
        if pid == 0:
            if start_line:
                select.select([line_r], [], [], 60)
            os._exit(0)
        children.append(pid)
        if sentinels:
            os.close(kept[-1][1])  # the child's end
    forked = time.perf_counter()
    os.write(line_w, b"!")
    for pid in children:
        os.waitpid(pid, 0)
    ended = time.perf_counter()
    print(
        json.dumps(
            {
                "forks": forks,
                "forks_s": round(ended - started, 4),
                "fork_s": round(forked - started, 4),
                "reap_s": round(ended - forked, 4),
                "anon_kb": _anon_kb(),
                "threading": "threading" in sys.modules,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
