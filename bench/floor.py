"""The floor under a run of process buyers: fork and reap N bare processes from an interpreter of the least weight.

    python -S -m bench.floor --forks 1000     (run by bench.wait with -S: no site, nothing imported but os)

Each child only exits (`os._exit(0)`); the parent forks them all, then waits for each. What the kernel and a
bare interpreter need for N processes, against which the engine's buyers (which also read, lock and write the
db) can be weighed. Prints one JSON object.
"""

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    forks = int(argv[argv.index("--forks") + 1]) if "--forks" in argv else 1000
    started = time.perf_counter()
    children = []
    for _ in range(forks):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    print(json.dumps({"forks": forks, "forks_s": round(time.perf_counter() - started, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
