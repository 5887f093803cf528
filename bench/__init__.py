"""ticketrush's benchmark: the engine and the API measured against the lesson's own way.

    python -m bench            # every section, five runs per figure (make bench)
    python -m bench --quick    # smaller sizes, two runs per figure, well under a minute (make bench-quick)
    python -m bench --only native   # one section alone: dask (8) or native (9)

It prints a table and writes bench/results.json. Every figure is the median of several runs, and every ratio
compares runs made side by side in the same invocation, interleaved, because the machines are shared and noisy.
Each run is a fresh process, so no run inherits another's memory or warm state.

    lesson.py   the baseline: the lesson's 12306 code, one multiprocessing.Process per buyer, made measurable
    engine.py   one engine run (run_simulation) timed end to end
    procs.py    running those as fresh processes, medians
    server.py   the real HTTP server: latency under load and the memory of a run
    dask.py     the dask executor's costs on a cluster of this host (section 8)
    native.py   the servers' own tools (pgbench, redis-benchmark) running the atomic step (section 9)
    __main__.py the sections, the table, the goals and results.json
"""
