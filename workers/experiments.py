"""Experiments: one simulation config run at several values of one field, each value repeated in trials.

    ExperimentSpec {config, trials, vary: {field, values}}
      |-- plan(spec)        every point's config checked up front by SimulationConfig (ExperimentInvalid names
      |                     the field); one seed chosen; trial k of every point runs with seed + k - 1
      |-- Plan.trials()     the runs in the order they run: round after round, each round every value once, so
      |                     that a noisy moment of the machine falls on every value alike
      |-- run_experiment    (a library user, the CLI) one trial after another, never two at once
      `-- summarise         per value: the spread (min, median, max) of oversold, lost updates and sales per
                            second over its completed trials, and how many trials oversold by how much

The app runs the same trials as simulations of its own (one process each, one after another) and calls
`summarise` and `csv_rows` on what its store holds, so the API, the CLI and the page show figures computed here.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workers.analysis import Result
from workers.config import SimulationConfig
from workers.config_errors import RANGE, field_errors
from workers.coordinator import DEFAULT_TIME_LIMIT_S, drop_store, run_simulation
from workers.errors import TicketrushError
from workers.speech import DEFAULT, fact, one_of, render

VARIABLE_FIELDS = (
    "buyers",
    "tickets",
    "hold_ms",
    "think_ms",
    "permits",
    "workers",
    "lock",
    "strategy",
    "store",
    "executor",
)
FIGURES = ("oversold", "lost_updates", "sales_per_second")
MAX_TRIALS = 1000  # the engine's own bounds; a server sets lower ones
MAX_VALUES = 1000
MAX_SEED = 2**63 - 1
CSV_FIGURES = (*FIGURES, "tickets_handed_out", "tickets_sold", "max_in_critical", "duration_ms")


class Vary(BaseModel):
    """The field an experiment varies, and the values it takes, one point each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(description=f"The setting to vary: one of {', '.join(VARIABLE_FIELDS)}.")
    values: list[Any] = Field(description="The values to try, one point each, in the order they are drawn.")


class ExperimentSpec(BaseModel):
    """What an experiment is asked to do: `config` at every value of `vary`, each value run `trials` times."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "config": {"buyers": 10, "tickets": 1, "lock": "none"},
                    "trials": 5,
                    "vary": {"field": "hold_ms", "values": [0, 10, 50, 100]},
                }
            ]
        },
    )

    config: dict[str, Any] = Field(
        default_factory=dict, description="A simulation's settings, without the varied field."
    )
    trials: int = Field(5, strict=True, description="How many times each value is run.")
    vary: Vary


class Problem(NamedTuple):
    """One refused part of an experiment: where (`loc`, as a path in the spec), why (in the user's language), and
    the value given."""

    loc: tuple[str | int, ...]
    message: str
    input: Any
    type: str = "value_error"


class ExperimentInvalid(ValueError):
    """The experiment cannot run as asked; `problems` says why, one per refused part."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)


def _shown(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


_SPEC_WORDS = {  # what each part takes, as the catalogues word it (workers/locales)
    ("config",): fact("experiment.takes.config"),
    ("trials",): fact("experiment.takes.trials", max=MAX_TRIALS),
    ("vary",): fact("experiment.takes.vary"),
    ("vary", "field"): fact("experiment.takes.vary.field", fields=one_of(VARIABLE_FIELDS)),
    ("vary", "values"): fact("experiment.takes.vary.values"),
}


def spec_problems(errors: ValidationError | Iterable[Mapping[str, Any]], lang: str = DEFAULT) -> list[Problem]:
    """What a refused ExperimentSpec tells its user: one problem per part, in words (not pydantic's), in `lang`."""
    if isinstance(errors, ValidationError):
        errors = errors.errors()
    found: dict[tuple[str | int, ...], Problem] = {}
    for error in errors:
        loc = tuple(error.get("loc", ()))
        if error.get("type") == "extra_forbidden":
            whole = "experiment.extra.vary" if len(loc) > 1 else "experiment.extra"
            message = render(fact(whole, part=".".join(map(str, loc))), lang)
            found[loc] = Problem(loc, message, error.get("input"), "extra_forbidden")
            continue
        key = loc[:2] if loc[:1] == ("vary",) else loc[:1]
        if key in found:
            continue
        part = ".".join(map(str, key)) or "experiment"
        words = _SPEC_WORDS.get(key, fact("experiment.takes"))
        missing = error.get("type") == "missing"
        said = (
            fact("experiment.missing", part=part, words=words)
            if missing
            else fact("experiment.wrong", part=part, words=words, got=_shown(error.get("input")))
        )
        found[key] = Problem(key, render(said, lang), error.get("input"), str(error.get("type", "value_error")))
    return list(found.values())


def label(value: Any) -> str:
    """A value as a person writes it: 50 for 50.0, 100-300 for the range [100, 300]."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | int):
        return f"{value:g}"
    if isinstance(value, list):
        return "-".join(label(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Trial:
    """One run of an experiment: the `number`-th trial (from 1) of the value at index `point`."""

    point: int
    number: int
    config: SimulationConfig


def trial_seed(seed: int, number: int) -> int:
    """The seed of trial `number` (from 1) of every value: the experiment's seed, plus one per trial."""
    return seed + number - 1


@dataclass(frozen=True)
class Plan:
    """An experiment checked and ready: one resolved config per value (with the experiment's seed)."""

    field: str
    values: tuple[Any, ...]  # as the configs hold them (hold_ms 50 is 50.0)
    trials_per_point: int
    points: tuple[SimulationConfig, ...]
    seed: int

    def trials(self) -> list[Trial]:
        """Every run, in the order they run: round k runs trial k of every value, in the values' order."""
        return [
            Trial(point, number, config.model_copy(update={"seed": trial_seed(self.seed, number)}))
            for number in range(1, self.trials_per_point + 1)
            for point, config in enumerate(self.points)
        ]


def plan(
    spec: ExperimentSpec, *, spell: Callable[[str], str] = str, range_form: str = RANGE, lang: str = DEFAULT
) -> Plan:
    """Check every point of `spec` with the engine's own SimulationConfig; raise ExperimentInvalid if any fails,
    its problems said in `lang`.

    `spell` and `range_form` are how the user writes a field and a range (see config_errors.field_errors);
    `spell` also names the experiment's own parts: 'trials', 'vary.field' and 'vary.values'.
    """
    field, values, config = spec.vary.field, spec.vary.values, spec.config
    problems: list[Problem] = []

    def said(key: str, **params: Any) -> str:
        return render(fact(key, **params), lang)

    if not 1 <= spec.trials <= MAX_TRIALS:
        words = _SPEC_WORDS[("trials",)]
        problems.append(
            Problem(
                ("trials",), said("experiment.wrong", part=spell("trials"), words=words, got=spec.trials), spec.trials
            )
        )
    if field not in VARIABLE_FIELDS:
        why = "experiment.fixed" if field in SimulationConfig.model_fields else "experiment.not_a_setting"
        why += ".seed" if field == "seed" else ""
        fields = one_of(VARIABLE_FIELDS)
        problems.append(
            Problem(("vary", "field"), said(why, part=spell("vary.field"), field=repr(field), fields=fields), field)
        )
        raise ExperimentInvalid(problems)
    if not 1 <= len(values) <= MAX_VALUES:
        counted = said("experiment.values", part=spell("vary.values"), max=MAX_VALUES, field=field, got=len(values))
        problems.append(Problem(("vary", "values"), counted, values))
    if field in config:
        problems.append(Problem(("config", field), said("experiment.varied", part=spell(field)), config[field]))
    base_fields: set[str] = set()
    base: SimulationConfig | None = None
    try:
        base = SimulationConfig.model_validate({k: v for k, v in config.items() if k != field})
    except ValidationError as e:
        for error in field_errors(e, spell=spell, range_form=range_form, lang=lang):
            base_fields.add(error.field)
            problems.append(Problem(("config", error.field), error.message, error.input, error.type))
    if base is not None and base.mode == "step":
        problems.append(Problem(("config", "mode"), said("experiment.step_mode", part=spell("mode")), base.mode))
    seed = base.resolved().seed if base is not None else 0
    assert seed is not None
    if base is not None and seed + spec.trials - 1 > MAX_SEED:
        most = MAX_SEED - spec.trials + 1
        problems.append(
            Problem(
                ("config", "seed"),
                said("experiment.seed", part=spell("seed"), trials=spec.trials, max=most, got=seed),
                seed,
            )
        )
    points: list[SimulationConfig] = []
    seen: dict[Any, int] = {}
    for index, value in enumerate(values):
        where = ("vary", "values", index)
        try:
            point = SimulationConfig.model_validate({**config, field: value, "seed": seed}).resolved()
        except ValidationError as e:
            for error in field_errors(e, spell=spell, range_form=range_form, lang=lang):
                if error.field in base_fields:
                    continue  # the config's own problem, told once
                if error.field == field:
                    problems.append(Problem(where, error.message, value, error.type))
                else:
                    with_value = said("experiment.with", field=spell(field), value=label(value), message=error.message)
                    problems.append(Problem(where, with_value, value))
            continue
        key = _shown(getattr(point, field))
        if key in seen:
            problems.append(
                Problem(
                    where,
                    said(
                        "experiment.twice", part=spell(field), value=label(value), first=seen[key] + 1, second=index + 1
                    ),
                    value,
                )
            )
            continue
        seen[key] = index
        points.append(point)
    if problems:
        raise ExperimentInvalid(problems)
    return Plan(field, tuple(getattr(p, field) for p in points), spec.trials, tuple(points), seed)


# -- what the trials showed -----------------------------------------------------------------------------------


class Spread(BaseModel):
    """A figure over a value's completed trials."""

    min: float
    median: float
    max: float


class OversoldCount(BaseModel):
    """One bar of a value's histogram: how many of its trials oversold by `oversold` tickets."""

    oversold: int
    trials: int


class Point(BaseModel):
    """One value of the varied field, and what its trials showed."""

    value: Any
    label: str = Field(description="The value as a person writes it (a range as min-max).")
    trials: list[str] = Field(description="The ids of its trials, in the order they ran.")
    completed: int = Field(description="Trials that completed; the figures are over these.")
    oversold: Spread | None = Field(description="Tickets oversold; null until a trial has completed.")
    lost_updates: Spread | None
    sales_per_second: Spread | None
    oversold_histogram: list[OversoldCount] = Field(description="Completed trials by how many tickets they oversold.")


@dataclass(frozen=True)
class Outcome:
    """What one trial came to: its id (a simulation's, or its number), status and, once completed, result."""

    point: int
    number: int
    id: str
    status: str
    seed: int | None
    result: Result | None


def spread(numbers: Sequence[float]) -> Spread | None:
    if not numbers:
        return None
    return Spread(min=min(numbers), median=statistics.median(numbers), max=max(numbers))


def summarise(values: Sequence[Any], outcomes: Iterable[Outcome]) -> list[Point]:
    """One Point per value, the figures over its completed trials."""
    by_point: list[list[Outcome]] = [[] for _ in values]
    for outcome in sorted(outcomes, key=lambda o: o.number):
        by_point[outcome.point].append(outcome)
    points = []
    for value, mine in zip(values, by_point, strict=True):
        results = [o.result for o in mine if o.result is not None]
        figures = {name: spread([float(getattr(r, name)) for r in results]) for name in FIGURES}
        counts = Counter(r.oversold for r in results)
        points.append(
            Point(
                value=value,
                label=label(value),
                trials=[o.id for o in mine],
                completed=len(results),
                oversold_histogram=[OversoldCount(oversold=n, trials=counts[n]) for n in sorted(counts)],
                **figures,
            )
        )
    return points


def csv_header(field: str) -> list[str]:
    return [field, "trial", "id", "status", "seed", *CSV_FIGURES]


def csv_rows(values: Sequence[Any], outcomes: Iterable[Outcome]) -> list[list[Any]]:
    """One row per trial (under csv_header), in the order given; a trial that did not complete has no figures."""
    rows = []
    for o in outcomes:
        figures = [getattr(o.result, name) if o.result is not None else "" for name in CSV_FIGURES]
        rows.append([label(values[o.point]), o.number, o.id, o.status, o.seed, *figures])
    return rows


# -- running one as a library ---------------------------------------------------------------------------------


def run_experiment(
    experiment: Plan,
    folder: Path,
    *,
    on_trial: Callable[[Outcome], None] | None = None,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    pause_collector: bool = False,
    store_urls: Mapping[str, str] | None = None,
) -> list[Outcome]:
    """Run every trial of `experiment` in turn, never two at once, each in a folder under `folder` that is
    removed once its result is in (the buyer records are not kept), with what it left on its store's server
    (`store_urls`, as for run_simulation); `on_trial` hears of each as it finishes. A trial that raises
    (RunFailed, RunCancelled, KeyboardInterrupt) ends the experiment there.
    """
    outcomes: list[Outcome] = []
    for trial in experiment.trials():
        run_dir = folder / f"trial-{trial.point}-{trial.number}"
        try:
            try:
                report = run_simulation(
                    trial.config,
                    run_dir,
                    time_limit_s=time_limit_s,
                    pause_collector=pause_collector,
                    store_urls=store_urls,
                )
            except BaseException:
                with contextlib.suppress(TicketrushError):  # the trial's own failure is the one to tell
                    drop_store(trial.config, run_dir, store_urls)
                raise
            drop_store(trial.config, run_dir, store_urls)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
        outcome = Outcome(
            trial.point, trial.number, str(len(outcomes) + 1), "completed", trial.config.seed, report.result
        )
        outcomes.append(outcome)
        if on_trial is not None:
            on_trial(outcome)
    return outcomes
