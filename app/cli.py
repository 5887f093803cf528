"""The `ticketrush` command: run a rush, step through one, compare the cures, sweep a field, or serve the API.

ticketrush run --buyers 10 --tickets 1 --lock none
ticketrush compare --buyers 1000 --tickets 100 --think-ms 0 --hold-ms 0
ticketrush sweep --vary hold_ms=0,10,50,100 --trials 5
ticketrush serve --port 8000
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import queue
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO, get_args

from pydantic import ValidationError

from app.settings import DASK_SCHEDULER_VARIABLE, executor_problem, store_url_problem, store_urls_from
from app.usage import UsageParser, display_width, wanted_language
from workers import BuyerRecord, RunReport, SimulationConfig, StoreRefused, TicketrushError, drop_store, run_simulation
from workers.config import DEFAULT_MAX_RETRIES
from workers.config_errors import field_errors
from workers.experiments import (
    VARIABLE_FIELDS,
    ExperimentInvalid,
    ExperimentSpec,
    Outcome,
    Plan,
    Point,
    Spread,
    Vary,
    csv_header,
    csv_rows,
    plan,
    run_experiment,
    summarise,
)
from workers.locks import DEFAULT_LOCK_TTL_MS, DEFAULT_PERMITS, LockKind
from workers.schedules import Model, ScheduleError, complete, play
from workers.speech import DEFAULT, LANGUAGES, Fact, all_of, fact, language, render, said, told
from workers.stores import StoreKind
from workers.strategies import StrategyKind
from workers.support import Cure, cures

STORY_LIMIT = 50
SHUTDOWN_GRACE_S = 3
LOCKS: tuple[str, ...] = get_args(LockKind)
STORES: tuple[str, ...] = get_args(StoreKind)
STRATEGIES: tuple[str, ...] = get_args(StrategyKind)
OPTION_OF = {"together": "--staggered"}  # config fields whose option is not their name
SWEEP_FIGURES = ("oversold", "lost_updates", "sales_per_second")  # each named by its entry cli.sweep.<figure>
TABLE_ROWS = (
    "tickets_initial", "tickets_handed_out", "tickets_sold", "tickets_remaining", "oversold", "lost_updates", "safe",
    "buyers_succeeded", "buyers_sold_out", "buyers_gave_up", "buyers_errored", "max_in_critical", "retries",
    "queue_wait_p50_ms", "purchase_p50_ms", "purchase_p95_ms", "lock_wait_p50_ms", "lock_wait_p95_ms",
    "lock_wait_max_ms", "duration_ms", "sales_per_second",
)  # fmt: skip


def _delay(text: str) -> float | list[float]:
    """'100' is a fixed delay, '100-300' or '100,300' a range."""
    for sep in (",", "-"):
        if sep in text.strip("-"):
            low, high = text.split(sep, 1)
            return [float(low), float(high)]
    return float(text)


def _schedule(text: str) -> list[int]:
    """'1,2,1,2' is a schedule of buyer numbers."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(said(fact("argparse.schedule", got=repr(text)))) from None


def _time_limit(text: str) -> float:
    """A run's time limit: a positive, finite number of seconds (0 or less would fail every run at once)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (0 < seconds < math.inf):
        raise argparse.ArgumentTypeError(said(fact("argparse.time_limit", got=repr(text))))
    return seconds


def _option(field: str) -> str:
    """A config field as the CLI spells it: think_ms -> --think-ms."""
    return OPTION_OF.get(field, "--" + field.replace("_", "-"))


THINK_MS = 100.0
HOLD_MS = [100.0, 300.0]


def _shown(delay: float | list[float]) -> str:
    """A delay as --think-ms and --hold-ms take it: 100, or 100-300."""
    return "-".join(f"{ms:g}" for ms in (delay if isinstance(delay, list) else [delay]))


def _help(parser: UsageParser, item: Fact) -> str:
    """A help text in the parser's language."""
    return render(item, parser.lang)


def _add_config_options(parser: UsageParser, *, with_lock: bool) -> None:
    parser.add_argument("--buyers", type=int, default=10, help=_help(parser, fact("help.buyers")))
    parser.add_argument("--tickets", type=int, default=1, help=_help(parser, fact("help.tickets")))
    parser.add_argument("--store", choices=STORES, default="file", help=_help(parser, fact("help.store")))
    if with_lock:
        parser.add_argument(
            "--strategy", choices=STRATEGIES, default="read-write", help=_help(parser, fact("help.strategy"))
        )
        parser.add_argument("--lock", choices=LOCKS, default="none", help=_help(parser, fact("help.lock")))
        parser.add_argument(
            "--lock-ttl-ms", type=int, help=_help(parser, fact("help.lock_ttl_ms", default=DEFAULT_LOCK_TTL_MS))
        )
        parser.add_argument("--permits", type=int, help=_help(parser, fact("help.permits", default=DEFAULT_PERMITS)))
        parser.add_argument("--schedule", type=_schedule, help=_help(parser, fact("help.schedule")))
        parser.add_argument(
            "--max-retries", type=int, default=DEFAULT_MAX_RETRIES, help=_help(parser, fact("help.max_retries"))
        )
    parser.add_argument(
        "--executor", choices=("process", "pool", "dask"), default="process", help=_help(parser, fact("help.executor"))
    )
    parser.add_argument("--workers", type=int, help=_help(parser, fact("help.workers")))
    parser.add_argument(
        "--think-ms", type=_delay, default=THINK_MS, help=_help(parser, fact("help.think_ms", default=_shown(THINK_MS)))
    )
    parser.add_argument(
        "--hold-ms", type=_delay, default=HOLD_MS, help=_help(parser, fact("help.hold_ms", default=_shown(HOLD_MS)))
    )
    parser.add_argument("--seed", type=int, help=_help(parser, fact("help.seed")))
    parser.add_argument("--lock-timeout-s", type=float, default=30.0, help=_help(parser, fact("help.lock_timeout_s")))
    parser.add_argument("--staggered", action="store_true", help=_help(parser, fact("help.staggered")))
    parser.add_argument(
        "--time-limit-s", type=_time_limit, default=300.0, help=_help(parser, fact("help.time_limit_s"))
    )
    parser.add_argument("--json", action="store_true", help=_help(parser, fact("help.json")))
    _add_lang_option(parser, fact("help.lang.run"))


def _add_lang_option(parser: UsageParser, what: Fact) -> None:
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=language(os.environ.get("LANG")),
        help=_help(parser, fact("help.lang", what=what)),
    )


def _config(args: argparse.Namespace, cure: Cure | None = None) -> SimulationConfig:
    """The config the options describe; for a comparison, with `cure`'s strategy and lock."""
    return SimulationConfig.model_validate(_settings(args, cure))


def _settings(args: argparse.Namespace, cure: Cure | None = None) -> dict[str, Any]:
    """The simulation settings the options give, not yet checked."""
    chosen = {"strategy": cure.strategy, "lock": cure.lock} if cure else {"strategy": args.strategy, "lock": args.lock}
    if cure is None:
        chosen |= {"permits": args.permits, "lock_ttl_ms": args.lock_ttl_ms}
        chosen |= {"max_retries": args.max_retries, "schedule": args.schedule}
    return {
        "buyers": args.buyers,
        "tickets": args.tickets,
        "store": args.store,
        **chosen,
        "executor": args.executor,
        "workers": args.workers,
        "think_ms": args.think_ms,
        "hold_ms": args.hold_ms,
        "seed": args.seed,
        "together": not args.staggered,
        "lock_timeout_s": args.lock_timeout_s,
    }


class ProgressBar:
    """Redrawn in place on a terminal; elsewhere (a log, a pipe) written once, when every buyer is in."""

    def __init__(self, out: TextIO, width: int = 40, unit: str = "buyers", lang: str = DEFAULT) -> None:
        self.out = out
        self.width = width
        self.unit = unit
        self.lang = lang
        self.live = out.isatty()
        self.shown = -1

    def __call__(self, finished: int, total: int) -> None:
        done = finished >= total
        if finished == self.shown or not (self.live or done):
            return
        self.shown = finished
        filled = self.width * finished // max(total, 1)
        counted = render(fact(f"cli.progress.{self.unit}", finished=finished, total=total), self.lang)
        bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {counted}"
        self.out.write(("\r" if self.live else "") + bar + ("\n" if done else ""))
        self.out.flush()


def story(records: Sequence[BuyerRecord], lang: str = DEFAULT) -> list[str]:
    """The run told as the lesson tells it, in the order things happened."""
    origin = min((r.t_start for r in records if r.t_start is not None), default=0)
    lines: list[tuple[int, str]] = []
    for r in records:
        if r.t_searched is not None and r.seen is not None:
            lines.append((r.t_searched, render(fact("story.sees", buyer=r.buyer, n=r.seen), lang)))
        if r.outcome == "success" and r.t_write is not None:
            lines.append((r.t_write, render(fact("story.got", buyer=r.buyer, read=r.read, wrote=r.wrote), lang)))
        elif r.outcome == "sold_out" and r.t_read is not None:
            lines.append((r.t_read, render(fact("story.sold_out", buyer=r.buyer), lang)))
        elif r.outcome in ("gave_up", "error"):
            key = "story.gave_up" if r.outcome == "gave_up" else "story.failed"
            lines.append((r.t_end or origin, render(fact(key, buyer=r.buyer, error=r.error_in(lang)), lang)))
    lines.sort()
    return [f"{(t - origin) / 1e6:9.1f} ms  {text}" for t, text in lines]


def _pad(text: str, width: int, *, right: bool = True) -> str:
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def table(columns: Mapping[str, RunReport], lang: str = DEFAULT) -> str:
    names = list(columns)
    labels = {key: render(fact(f"table.{key}"), lang) for key in TABLE_ROWS}
    label_width = max(display_width(label) for label in labels.values())
    widths = [max(12, display_width(n)) for n in names]
    lines = [" " * label_width + "  " + "  ".join(_pad(n, w) for n, w in zip(names, widths, strict=True))]
    for key, label in labels.items():
        values = [_cell(getattr(columns[n].result, key), lang) for n in names]
        cells = "  ".join(_pad(v, w) for v, w in zip(values, widths, strict=True))
        lines.append(_pad(label, label_width, right=False) + "  " + cells)
    return "\n".join(lines)


def _cell(value: Any, lang: str) -> str:
    if isinstance(value, bool):
        return render(fact("table.yes" if value else "table.no"), lang)
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def _servers(config: SimulationConfig) -> dict[str, str]:
    """The URLs of the stores' servers (TICKETRUSH_POSTGRES_URL, TICKETRUSH_REDIS_URL); StoreRefused naming the
    variable when `config`'s store or executor needs one that is not set."""
    urls = store_urls_from(os.environ)
    problem = store_url_problem(config.store, urls)
    if problem is not None:
        raise StoreRefused(problem)
    problem = executor_problem(config.executor, os.environ.get(DASK_SCHEDULER_VARIABLE))
    if problem is not None:
        raise StoreRefused(problem, "executor", config.executor)
    return urls


@contextlib.contextmanager
def _run_folder(config: SimulationConfig, lang: str) -> Iterator[tuple[Path, dict[str, str]]]:
    """A temporary folder for a run of `config`, and the URLs of the stores' servers (TICKETRUSH_POSTGRES_URL,
    TICKETRUSH_REDIS_URL); what the run left on its store's server goes with the folder."""
    urls = _servers(config)
    with tempfile.TemporaryDirectory(prefix="ticketrush-") as folder:
        run_dir = Path(folder)
        try:
            yield run_dir, urls
        except BaseException:
            with contextlib.suppress(TicketrushError):  # the run's own failure is the one to tell
                drop_store(config, run_dir, urls)
            raise
        try:
            drop_store(config, run_dir, urls)
        except TicketrushError as e:
            _complain(fact("cli.store_kept", store=config.store, error=told(e, lang)), lang)


def _execute(config: SimulationConfig, args: argparse.Namespace) -> RunReport:
    progress = ProgressBar(sys.stderr, lang=args.lang) if config.buyers > STORY_LIMIT and not args.json else None
    with _run_folder(config, args.lang) as (run_dir, urls):
        return run_simulation(
            config,
            run_dir,
            on_progress=progress,
            time_limit_s=args.time_limit_s,
            pause_collector=True,
            store_urls=urls,
            dask_scheduler=os.environ.get(DASK_SCHEDULER_VARIABLE),
        )


def _report_json(report: RunReport) -> dict[str, Any]:
    return {"config": report.config.model_dump(), "result": report.result.model_dump()}


def cure_name(config: SimulationConfig) -> str:
    return Cure(config.strategy, config.lock).name


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    report = _execute(_config(args), args)
    if args.json:
        json.dump(_report_json(report), out, indent=2)
        out.write("\n")
        return 0
    lang = args.lang
    result = report.result.spoken(lang)
    if report.config.buyers <= STORY_LIMIT:
        out.write("\n".join(story(report.records, lang)) + "\n\n")
    out.write(f"{result.verdict}\n\n")
    out.write(table({cure_name(report.config): report}, lang) + "\n\n")
    out.write(result.explanation + "\n")
    out.write(render(fact("cli.seed", seed=report.config.seed), lang) + "\n")
    if result.schedule is not None:
        steps = ",".join(map(str, result.schedule))
        out.write(render(fact("cli.replay", steps=steps), lang) + "\n")
    return 0


def cmd_compare(args: argparse.Namespace, out: TextIO) -> int:
    """Every cure of the store in turn, never two at once; Ctrl-C shows the runs that had finished, then stops
    (exit 130)."""
    candidates = cures(args.store)
    configs = [_config(args, cure) for cure in candidates]  # every one is checked before any runs
    base = configs[0].resolved()
    reports: dict[str, RunReport] = {}
    try:
        for cure, config in zip(candidates, configs, strict=True):
            reports[cure.name] = _execute(config.model_copy(update={"seed": base.seed}), args)
    except KeyboardInterrupt:
        if reports:
            _write_comparison(reports, base, args, out)
            if not args.json:
                missing = ", ".join(cure.name for cure in candidates if cure.name not in reports)
                out.write(render(fact("cli.compare_interrupted", missing=missing), args.lang) + "\n")
        raise
    _write_comparison(reports, base, args, out)
    return 0


def _write_comparison(
    reports: Mapping[str, RunReport], base: SimulationConfig, args: argparse.Namespace, out: TextIO
) -> None:
    if args.json:
        json.dump({lock: _report_json(r) for lock, r in reports.items()}, out, indent=2)
        out.write("\n")
        return
    out.write(table(reports, args.lang) + "\n\n")
    for name, report in reports.items():
        result = report.result.spoken(args.lang)
        line = fact("cli.compare_line", name=name, verdict=result.verdict, explanation=result.explanation)
        out.write(render(line, args.lang) + "\n")
    out.write(render(fact("cli.compare_seed", seed=base.seed), args.lang) + "\n")


def _vary(text: str) -> tuple[str, list[str]]:
    """--vary hold_ms=0,10,50: the field (as a config field or an option name) and its values, not yet read."""
    field, sep, values = text.partition("=")
    if not sep or not field.strip() or not values.strip():
        raise argparse.ArgumentTypeError(said(fact("argparse.vary", got=repr(text))))
    return field.strip().removeprefix("--").replace("-", "_"), [v.strip() for v in values.split(",")]


_READS_AS = {int: "cli.reads.int", _delay: "cli.reads.delay"}  # what a value of --vary reads as (workers/locales)


def _sweep_spelling(field: str) -> Callable[[str], str]:
    """How sweep's messages name a part: the varied field as `--vary FIELD`, the others as their options."""
    parts = {"trials": "--trials", "vary.field": "--vary", "vary.values": "--vary", field: f"--vary {field}"}
    return lambda name: parts.get(name, _option(name))


def sweep_table(field: str, points: Sequence[Point], lang: str = DEFAULT) -> str:
    """One row per value: trials completed and the min / median / max of each figure."""
    header = [field, render(fact("cli.sweep.trials"), lang)]
    header += [render(fact("cli.sweep.spread", figure=fact(f"cli.sweep.{name}")), lang) for name in SWEEP_FIGURES]
    rows = [header]
    for point in points:
        cells = [point.label, f"{point.completed}/{len(point.trials)}"]
        for name in SWEEP_FIGURES:
            figure: Spread | None = getattr(point, name)
            cells.append(" / ".join(_figure(getattr(figure, m)) for m in ("min", "median", "max")) if figure else "-")
        rows.append(cells)
    widths = [max(display_width(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(_pad(cell, w, right=i > 0) for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
        for row in rows
    )


def _figure(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def cmd_sweep(args: argparse.Namespace, out: TextIO) -> int:
    """One config at every value of --vary, each value --trials times, one run after another; Ctrl-C shows the
    trials that had finished, then stops (exit 130)."""
    if args.csv and args.json:
        _complain(fact("cli.csv_or_json"), args.lang)
        return 2
    field, texts = args.vary
    spell = _sweep_spelling(field)
    read = args.readers.get(field)
    values: list[Any] = []
    for text in texts:
        try:
            values.append(read(text) if read is not None else text)
        except ValueError:
            reads_as = fact(_READS_AS.get(read, "cli.reads.value"))
            _complain(
                fact("field.refused", field=f"--vary {field}", message=fact("cli.got", what=reads_as, got=repr(text))),
                args.lang,
            )
            return 2
    config = _settings(args)
    if field in config and config.pop(field) != args.defaults.get(field):
        _complain(fact("cli.vary_sets", option=_option(field), field=field), args.lang)
        return 2
    try:
        experiment = plan(
            ExperimentSpec(config=config, trials=args.trials, vary=Vary(field=field, values=values)),
            spell=spell,
            range_form="min-max",
            lang=args.lang,
        )
    except ExperimentInvalid as e:
        for problem in e.problems:
            _complain(problem.message, args.lang)
        return 2
    urls: dict[str, str] = {}
    for point in experiment.points:  # every value is checked before the first trial runs
        urls = _servers(point)
    total = len(experiment.points) * experiment.trials_per_point
    progress = ProgressBar(sys.stderr, unit="trials", lang=args.lang)
    outcomes: list[Outcome] = []

    def heard(outcome: Outcome) -> None:
        outcomes.append(outcome)
        progress(len(outcomes), total)

    try:
        with tempfile.TemporaryDirectory(prefix="ticketrush-sweep-") as folder:
            run_experiment(
                experiment,
                Path(folder),
                on_trial=heard,
                time_limit_s=args.time_limit_s,
                pause_collector=True,
                store_urls=urls,
            )
    except KeyboardInterrupt:
        if outcomes:
            _write_sweep(experiment, config, outcomes, args, out)
            if not (args.json or args.csv):
                out.write(render(fact("cli.sweep_interrupted", ran=len(outcomes), total=total), args.lang) + "\n")
        raise
    _write_sweep(experiment, config, outcomes, args, out)
    return 0


def _write_sweep(
    experiment: Plan, config: dict[str, Any], outcomes: list[Outcome], args: argparse.Namespace, out: TextIO
) -> None:
    points = summarise(experiment.values, outcomes)
    if args.csv:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(csv_header(experiment.field))
        writer.writerows(csv_rows(experiment.values, outcomes))
        return
    if args.json:
        body = {
            "config": {**config, "seed": experiment.seed},
            "trials": experiment.trials_per_point,
            "vary": {"field": experiment.field, "values": list(experiment.values)},
            "points": [point.model_dump() for point in points],
        }
        json.dump(body, out, indent=2)
        out.write("\n")
        return
    out.write(sweep_table(experiment.field, points, args.lang) + "\n\n")
    out.write(render(fact("cli.sweep_seed", seed=experiment.seed), args.lang) + "\n")


def _describe_state(model: Model, lang: str) -> str:
    parts = [fact("cli.state.count", count=model.count)]
    if model.holders:
        parts.append(fact("cli.state.held", holders=all_of(fact("schedule.holder", buyer=h) for h in model.holders)))
    for number, b in model.buyers.items():
        step = model.next_step(number) or b.outcome
        parts.append(fact("cli.state.buyer", buyer=number, step=fact(f"cli.state.{step}")))
    return render(fact("cli.state.sep"), lang).join(render(part, lang) for part in parts)


def _one_step(model: Model, word: str) -> int:
    """Take the step the user typed on `model`; ScheduleError says why it cannot be taken."""
    try:
        buyer = int(word)
    except ValueError:
        raise ScheduleError(fact("cli.step_word", word=repr(word))) from None
    model.take(buyer)
    return buyer


def cmd_step(args: argparse.Namespace, out: TextIO, lines: TextIO = sys.stdin) -> int:
    """A step-mode run in the terminal: type a buyer's number to let it take its next step, 'end' to run every
    buyer to its end, 'quit' to stop."""
    config = _config(args).model_copy(update={"mode": "step"})
    config = SimulationConfig.model_validate(config.model_dump())  # the step-mode rules apply
    model = play(config.race(), config.schedule or [])
    steps: queue.Queue[int] = queue.Queue()
    stopped = threading.Event()
    outcome: list[RunReport | BaseException] = []

    def feed() -> list[int]:
        taken = []
        while not steps.empty():
            taken.append(steps.get_nowait())
        return taken

    def run() -> None:
        try:
            with _run_folder(config, args.lang) as (run_dir, urls):
                report = run_simulation(
                    config,
                    run_dir,
                    next_steps=feed,
                    should_stop=stopped.is_set,
                    time_limit_s=args.time_limit_s,
                    store_urls=urls,
                )
            outcome.append(report)
        except BaseException as e:  # reported by the main thread
            outcome.append(e)

    runner = threading.Thread(target=run, name="ticketrush-step-run")
    runner.start()
    out.write(f"{_describe_state(model, args.lang)}\n> ")
    out.flush()
    try:
        for line in lines:
            word = line.strip()
            if word in ("quit", "q"):
                raise KeyboardInterrupt
            try:
                taken = complete(model) if word == "end" else [_one_step(model, word)]
            except ScheduleError as e:
                out.write(f"{told(e, args.lang)}\n> ")
                out.flush()
                continue
            for buyer in taken:
                steps.put(buyer)
            out.write(f"{_describe_state(model, args.lang)}\n")
            if all(model.done(b) for b in model.buyers):
                break
            out.write("> ")
            out.flush()
        else:
            raise KeyboardInterrupt  # the input ended before the visit did
    finally:
        if not all(model.done(b) for b in model.buyers):
            stopped.set()  # the run is cancelled: its buyers are stopped
        runner.join(args.time_limit_s + 30)
    report = outcome[0]
    if isinstance(report, BaseException):
        raise report
    result = report.result.spoken(args.lang)
    out.write(f"\n{result.verdict}\n{result.explanation}\n")
    return 0


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    """Settings and the data dir are checked before the server starts, so that a refusal is one line."""
    import uvicorn

    from app.main import create_app
    from app.ownership import DataDirClaim, DataDirInUse
    from app.settings import Settings, settings_problems

    try:
        settings = Settings()
    except ValidationError as e:
        for problem in settings_problems(e):
            _complain(problem, args.lang)
        return 2
    try:
        claim = DataDirClaim.take(settings.data_dir)
    except DataDirInUse as e:
        _complain(e.fact, args.lang)
        return 1
    except OSError as e:
        unusable = fact("serve.data_dir_unusable", data_dir=str(settings.data_dir), words=e.strerror or str(e))
        _complain(unusable, args.lang)
        return 1
    try:
        uvicorn.run(
            create_app(settings, claim),
            host=args.host,
            port=args.port,
            # open event streams would otherwise hold the shutdown (and the cancelling of runs) back indefinitely
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
    finally:
        claim.release()
    return 0


def _complain(message: str | Fact, lang: str) -> None:
    """One line on stderr: a fact said in `lang`, or words as they are."""
    sys.stderr.write(f"ticketrush: {said(message, lang)}\n")


def build_parser(lang: str = DEFAULT) -> argparse.ArgumentParser:
    """The options of every command; their help and usage errors said in `lang` (app.usage)."""
    parser = UsageParser(prog="ticketrush", description=render(fact("help.ticketrush"), lang), lang=lang)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", lang=lang, help=render(fact("help.run"), lang))
    _add_config_options(run, with_lock=True)
    run.set_defaults(handler=cmd_run)
    stepper = commands.add_parser("step", lang=lang, help=render(fact("help.step"), lang))
    _add_config_options(stepper, with_lock=True)
    stepper.set_defaults(handler=cmd_step)
    compare = commands.add_parser("compare", lang=lang, help=render(fact("help.compare"), lang))
    _add_config_options(compare, with_lock=False)
    compare.set_defaults(handler=cmd_compare)
    sweep = commands.add_parser("sweep", lang=lang, help=render(fact("help.sweep"), lang))
    sweep.add_argument(
        "--vary",
        type=_vary,
        required=True,
        metavar="FIELD=V1,V2,...",
        help=_help(sweep, fact("help.vary", fields=", ".join(VARIABLE_FIELDS))),
    )
    sweep.add_argument("--trials", type=int, default=5, help=_help(sweep, fact("help.trials")))
    _add_config_options(sweep, with_lock=True)
    sweep.add_argument("--csv", action="store_true", help=_help(sweep, fact("help.csv")))
    readers = {a.dest: a.type for a in sweep._actions if a.type in _READS_AS}
    sweep.set_defaults(handler=cmd_sweep, readers=readers, defaults={a.dest: a.default for a in sweep._actions})
    serve = commands.add_parser("serve", lang=lang, help=render(fact("help.serve"), lang))
    serve.add_argument("--host", default="127.0.0.1", help=_help(serve, fact("help.host")))
    serve.add_argument("--port", type=int, default=8000, help=_help(serve, fact("help.port")))
    _add_lang_option(serve, fact("help.lang.serve"))
    serve.set_defaults(handler=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(wanted_language(argv))
    args = parser.parse_args(argv)
    lang = args.lang
    try:
        return int(args.handler(args, out))
    except ValidationError as e:
        for error in field_errors(e, spell=_option, range_form="min-max", lang=lang):
            _complain(error.message, lang)
        return 2
    except StoreRefused as e:
        _complain(fact("field.refused", field=_option(e.field), message=told(e, lang)), lang)
        return 2
    except TicketrushError as e:
        _complain(told(e, lang), lang)
        return 1
    except KeyboardInterrupt:
        _complain(fact("cli.interrupted"), lang)
        return 130


if __name__ == "__main__":
    sys.exit(main())
