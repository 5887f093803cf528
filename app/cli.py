"""The `ticketrush` command: run a rush, compare the locks, or serve the API.

ticketrush run --buyers 10 --tickets 1 --lock none
ticketrush compare --buyers 1000 --tickets 100 --think-ms 0 --hold-ms 0
ticketrush serve --port 8000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO, get_args

from pydantic import ValidationError

from app.settings import store_url_problem, store_urls_from
from workers import BuyerRecord, RunReport, SimulationConfig, StoreRefused, TicketrushError, drop_store, run_simulation
from workers.locks import LockKind
from workers.stores import StoreKind
from workers.strategies import StrategyKind

STORY_LIMIT = 50
SHUTDOWN_GRACE_S = 3
LOCKS: tuple[LockKind, ...] = ("none", "process", "file")
TABLE_ROWS = (
    ("tickets_initial", "tickets at start"),
    ("tickets_handed_out", "tickets handed out"),
    ("tickets_sold", "tickets sold (left the db)"),
    ("tickets_remaining", "tickets remaining"),
    ("oversold", "oversold"),
    ("lost_updates", "lost updates"),
    ("safe", "safe"),
    ("buyers_succeeded", "buyers who got a ticket"),
    ("buyers_sold_out", "buyers who found it sold out"),
    ("buyers_errored", "buyers who failed"),
    ("max_in_critical", "most buyers in read-to-write at once"),
    ("lock_wait_p50_ms", "lock wait p50 (ms)"),
    ("lock_wait_p95_ms", "lock wait p95 (ms)"),
    ("lock_wait_max_ms", "lock wait max (ms)"),
    ("duration_ms", "duration (ms)"),
    ("sales_per_second", "sales per second"),
)


def _delay(text: str) -> float | list[float]:
    """'100' is a fixed delay, '100-300' or '100,300' a range."""
    for sep in (",", "-"):
        if sep in text.strip("-"):
            low, high = text.split(sep, 1)
            return [float(low), float(high)]
    return float(text)


def _add_config_options(parser: argparse.ArgumentParser, *, with_lock: bool) -> None:
    parser.add_argument("--buyers", type=int, default=10)
    parser.add_argument("--tickets", type=int, default=1)
    parser.add_argument(
        "--store",
        choices=get_args(StoreKind),
        default="file",
        help="where the tickets live (postgres, redis: the servers of TICKETRUSH_POSTGRES_URL, TICKETRUSH_REDIS_URL)",
    )
    if with_lock:
        parser.add_argument("--strategy", choices=get_args(StrategyKind), default="read-write")
        parser.add_argument("--lock", choices=get_args(LockKind), default="none")
    parser.add_argument("--executor", choices=("process", "pool"), default="process")
    parser.add_argument("--workers", type=int, help="pool size (default: number of CPUs)")
    parser.add_argument("--think-ms", type=_delay, default=100.0, help="ms, or a range such as 50-150")
    parser.add_argument("--hold-ms", type=_delay, default=[100.0, 300.0], help="ms, or a range such as 100-300")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--lock-timeout-s", type=float, default=30.0)
    parser.add_argument("--staggered", action="store_true", help="start buyers as they are created, not together")
    parser.add_argument("--time-limit-s", type=float, default=300.0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _config(args: argparse.Namespace, lock: LockKind) -> SimulationConfig:
    return SimulationConfig(
        buyers=args.buyers,
        tickets=args.tickets,
        store=args.store,
        strategy=getattr(args, "strategy", "read-write"),
        lock=lock,
        executor=args.executor,
        workers=args.workers,
        think_ms=args.think_ms,
        hold_ms=args.hold_ms,
        seed=args.seed,
        together=not args.staggered,
        lock_timeout_s=args.lock_timeout_s,
    )


class ProgressBar:
    """Redrawn in place on a terminal; elsewhere (a log, a pipe) written once, when every buyer is in."""

    def __init__(self, out: TextIO, width: int = 40) -> None:
        self.out = out
        self.width = width
        self.live = out.isatty()
        self.shown = -1

    def __call__(self, finished: int, total: int) -> None:
        done = finished >= total
        if finished == self.shown or not (self.live or done):
            return
        self.shown = finished
        filled = self.width * finished // max(total, 1)
        bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {finished:,}/{total:,} buyers"
        self.out.write(("\r" if self.live else "") + bar + ("\n" if done else ""))
        self.out.flush()


def story(records: Sequence[BuyerRecord]) -> list[str]:
    """The run told as the lesson tells it, in the order things happened."""
    origin = min((r.t_start for r in records if r.t_start is not None), default=0)
    lines: list[tuple[int, str]] = []
    for r in records:
        if r.t_searched is not None:
            lines.append((r.t_searched, f"buyer {r.buyer} sees {r.seen} ticket(s) left"))
        if r.outcome == "success" and r.t_write is not None:
            lines.append((r.t_write, f"buyer {r.buyer} got a ticket (read {r.read}, wrote {r.wrote})"))
        elif r.outcome == "sold_out" and r.t_read is not None:
            lines.append((r.t_read, f"buyer {r.buyer} found it sold out"))
        elif r.outcome == "error":
            lines.append((r.t_end or origin, f"buyer {r.buyer} failed: {r.error}"))
    lines.sort()
    return [f"{(t - origin) / 1e6:9.1f} ms  {text}" for t, text in lines]


def table(columns: Mapping[str, RunReport]) -> str:
    names = list(columns)
    label_width = max(len(label) for _, label in TABLE_ROWS)
    widths = [max(12, len(n)) for n in names]
    lines = [" " * label_width + "  " + "  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True))]
    for key, label in TABLE_ROWS:
        values = [_cell(getattr(columns[n].result, key)) for n in names]
        lines.append(
            label.ljust(label_width) + "  " + "  ".join(v.rjust(w) for v, w in zip(values, widths, strict=True))
        )
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def _execute(config: SimulationConfig, args: argparse.Namespace) -> RunReport:
    """Run `config` in a folder of its own, and remove it and what the run left on its store's server after."""
    progress = ProgressBar(sys.stderr) if config.buyers > STORY_LIMIT and not args.json else None
    urls = store_urls_from(os.environ)
    problem = store_url_problem(config.store, urls)
    if problem is not None:
        raise StoreRefused(problem)
    with tempfile.TemporaryDirectory(prefix="ticketrush-") as run_dir:
        try:
            report = run_simulation(
                config,
                Path(run_dir),
                on_progress=progress,
                time_limit_s=args.time_limit_s,
                pause_collector=True,
                store_urls=urls,
            )
        except BaseException:
            with contextlib.suppress(TicketrushError):  # the run's own failure is the one to tell
                drop_store(config, Path(run_dir), urls)
            raise
        try:
            drop_store(config, Path(run_dir), urls)
        except TicketrushError as e:
            sys.stderr.write(f"ticketrush: the run's tickets on store {config.store} were not removed: {e}\n")
    return report


def _report_json(report: RunReport) -> dict[str, Any]:
    return {"config": report.config.model_dump(), "result": report.result.model_dump()}


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    report = _execute(_config(args, args.lock), args)
    if args.json:
        json.dump(_report_json(report), out, indent=2)
        out.write("\n")
        return 0
    if report.config.buyers <= STORY_LIMIT:
        out.write("\n".join(story(report.records)) + "\n\n")
    out.write(table({report.config.lock: report}) + "\n\n")
    out.write(report.result.explanation + "\n")
    out.write(f"(seed {report.config.seed}: pass --seed {report.config.seed} to repeat these delays)\n")
    return 0


def cmd_compare(args: argparse.Namespace, out: TextIO) -> int:
    base = _config(args, "none").resolved()
    reports: dict[str, RunReport] = {lock: _execute(base.model_copy(update={"lock": lock}), args) for lock in LOCKS}
    if args.json:
        json.dump({lock: _report_json(r) for lock, r in reports.items()}, out, indent=2)
        out.write("\n")
        return 0
    out.write(table(reports) + "\n\n")
    for lock, report in reports.items():
        out.write(f"{lock}: {report.result.explanation}\n")
    out.write(f"(seed {base.seed})\n")
    return 0


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    import uvicorn

    # Open event streams would otherwise hold the shutdown (and the cancelling of runs) back indefinitely.
    uvicorn.run("app.main:app", host=args.host, port=args.port, timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ticketrush", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one ticket rush and explain it")
    _add_config_options(run, with_lock=True)
    run.set_defaults(handler=cmd_run)
    compare = commands.add_parser("compare", help="run one config under each lock, side by side")
    _add_config_options(compare, with_lock=False)
    compare.set_defaults(handler=cmd_compare)
    serve = commands.add_parser("serve", help="serve the HTTP API and the dashboard")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args, out))
    except ValidationError as e:
        for error in e.errors():
            field = ".".join(str(part) for part in error["loc"]) or "config"
            sys.stderr.write(f"ticketrush: invalid {field}: {error['msg']}\n")
        return 2
    except StoreRefused as e:
        sys.stderr.write(f"ticketrush: invalid {e.field}: {e}\n")
        return 2
    except TicketrushError as e:
        sys.stderr.write(f"ticketrush: {e}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("ticketrush: interrupted; every buyer process was stopped\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
