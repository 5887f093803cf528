"""Where experiments live: two tables beside the simulations, in the same SQLite file.

    experiments        one row each: the config as given (its seed chosen), the varied field, its values, trials
    experiment_trials  one row per trial: the order it runs in, its value (point), its number, its simulation

An experiment's trials are simulations like any other (the dispatcher runs them, their results and buyer records
are theirs); they are stored with the experiment in one transaction, so a crash leaves all of them or none. An
experiment has no status of its own: it is what its trials' statuses add up to (`status_of`), so a restart that
marks the unfinished trials interrupted marks the experiment interrupted too, and its finished trials stay.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.lifecycle import TERMINAL, Status
from app.run_folders import new_id
from app.store import SimulationRow, Store
from workers.experiments import Outcome, Plan, label, trial_seed
from workers.speech import Fact, fact

SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    id          TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    config      TEXT NOT NULL,
    field       TEXT NOT NULL,
    vals        TEXT NOT NULL,
    trials      INTEGER NOT NULL,
    seed        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS experiments_by_created ON experiments (created_at);
CREATE TABLE IF NOT EXISTS experiment_trials (
    experiment_id TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    point         INTEGER NOT NULL,
    number        INTEGER NOT NULL,
    simulation_id TEXT NOT NULL,
    PRIMARY KEY (experiment_id, seq)
);
"""
_COLUMNS = "id, created_at, config, field, vals, trials, seed"
DELETED = "deleted"  # the status shown for a trial whose simulation was deleted on its own


class ExperimentNotFound(LookupError):
    """No experiment has this id."""


@dataclass(frozen=True)
class TrialLink:
    """One trial of an experiment: its value's index, its number (from 1) and its simulation."""

    point: int
    number: int
    simulation_id: str


@dataclass(frozen=True)
class ExperimentRow:
    """One experiment as stored, with its trials in the order they run."""

    id: str
    created_at: datetime
    config: dict[str, Any]
    field: str
    values: list[Any]
    trials_per_point: int
    seed: int
    trials: list[TrialLink]


@dataclass(frozen=True)
class ExperimentState:
    """An experiment read with its trials' simulations: what the API shows."""

    row: ExperimentRow
    status: Status
    started_at: datetime | None
    finished_at: datetime | None
    finished: int
    error: Fact | None  # workers.speech
    outcomes: list[Outcome]
    simulations: dict[str, SimulationRow]


def status_of(statuses: Sequence[Status]) -> Status:
    """An experiment's status from its trials': queued until one starts, running until all have finished; then
    interrupted, cancelled or failed if any trial was (in that order), else completed."""
    if any(s not in TERMINAL for s in statuses):
        return Status.QUEUED if all(s == Status.QUEUED for s in statuses) else Status.RUNNING
    for final in (Status.INTERRUPTED, Status.CANCELLED, Status.FAILED):
        if final in statuses:
            return final
    return Status.COMPLETED


class ExperimentStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def init(self) -> None:
        with self.store.transaction() as db:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    def create(self, plan: Plan, config: dict[str, Any]) -> tuple[ExperimentRow, list[SimulationRow]]:
        """Store an experiment and every trial as a queued simulation, in one transaction, in the order they run."""
        experiment_id = new_id()
        created_at = datetime.now(UTC)
        given = {**config, "seed": plan.seed}
        links, simulations = [], []
        with self.store.transaction() as db:
            db.execute(
                f"INSERT INTO experiments ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    experiment_id,
                    created_at.isoformat(timespec="microseconds"),
                    json.dumps(given),
                    plan.field,
                    json.dumps(list(plan.values)),
                    plan.trials_per_point,
                    plan.seed,
                ),
            )
            for seq, trial in enumerate(plan.trials()):
                simulation = self.store.insert(db, trial.config)
                db.execute(
                    "INSERT INTO experiment_trials (experiment_id, seq, point, number, simulation_id) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (experiment_id, seq, trial.point, trial.number, simulation.id),
                )
                simulations.append(simulation)
                links.append(TrialLink(trial.point, trial.number, simulation.id))
        row = ExperimentRow(
            experiment_id, created_at, given, plan.field, list(plan.values), plan.trials_per_point, plan.seed, links
        )
        return row, simulations

    def get(self, experiment_id: str) -> ExperimentRow | None:
        with self.store.transaction() as db:
            found = db.execute(f"SELECT {_COLUMNS} FROM experiments WHERE id = ?", (experiment_id,)).fetchone()
            if found is None:
                return None
            trials = db.execute(
                "SELECT point, number, simulation_id FROM experiment_trials WHERE experiment_id = ? ORDER BY seq",
                (experiment_id,),
            ).fetchall()
        return _row(found, [TrialLink(*t) for t in trials])

    def page(self, offset: int, limit: int) -> tuple[list[str], int]:
        """Experiment ids, newest first, and how many there are in all."""
        with self.store.transaction() as db:
            ids = db.execute(
                "SELECT id FROM experiments ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
            (count,) = db.execute("SELECT COUNT(*) FROM experiments").fetchone()
        return [i for (i,) in ids], count

    def read(self, experiment_id: str) -> ExperimentState | None:
        """The experiment with its trials' simulations, and what they add up to."""
        row = self.get(experiment_id)
        if row is None:
            return None
        simulations = self.store.get_many(t.simulation_id for t in row.trials)
        outcomes = []
        for t in row.trials:
            sim = simulations.get(t.simulation_id)
            status = sim.status if sim is not None else DELETED
            result = sim.result if sim is not None else None
            seed = trial_seed(row.seed, t.number)
            outcomes.append(Outcome(t.point, t.number, t.simulation_id, status, seed, result))
        runs = [simulations[t.simulation_id] for t in row.trials if t.simulation_id in simulations]
        status = status_of([r.status for r in runs])
        started = [r.started_at for r in runs if r.started_at is not None]
        finished = [r.finished_at for r in runs if r.finished_at is not None]
        done = sum(1 for r in runs if r.status in TERMINAL)
        return ExperimentState(
            row=row,
            status=status,
            started_at=min(started, default=None),
            finished_at=max(finished, default=None) if status in TERMINAL else None,
            finished=done + len(row.trials) - len(runs),
            error=_error(row, runs, status),
            outcomes=outcomes,
            simulations=simulations,
        )

    def delete(self, experiment_id: str) -> list[str]:
        """Remove the experiment (not its trials' simulations); return their ids, for the caller to delete."""
        with self.store.transaction() as db:
            trials = db.execute(
                "SELECT simulation_id FROM experiment_trials WHERE experiment_id = ? ORDER BY seq", (experiment_id,)
            ).fetchall()
            deleted = db.execute("DELETE FROM experiments WHERE id = ?", (experiment_id,)).rowcount
            if not deleted:
                raise ExperimentNotFound(experiment_id)
            db.execute("DELETE FROM experiment_trials WHERE experiment_id = ?", (experiment_id,))
        return [i for (i,) in trials]


def _row(values: tuple[Any, ...], trials: list[TrialLink]) -> ExperimentRow:
    experiment_id, created_at, config, field, vals, per_point, seed = values
    return ExperimentRow(
        experiment_id,
        datetime.fromisoformat(created_at),
        json.loads(config),
        field,
        json.loads(vals),
        per_point,
        seed,
        trials,
    )


def _error(row: ExperimentRow, runs: Sequence[SimulationRow], status: Status) -> Fact | None:
    """Why a finished experiment did not complete: how far it got, and its first trial that did not."""
    if status not in TERMINAL - {Status.COMPLETED}:
        return None
    completed = sum(1 for r in runs if r.status == Status.COMPLETED)
    first = next(r for r in runs if r.status != Status.COMPLETED)
    link = next(t for t in row.trials if t.simulation_id == first.id)
    if first.status == Status.FAILED:
        how = fact("experiment.trial_failed")
    else:
        how = fact("experiment.trial_was", status=fact(f"status.{first.status}"))
    where = {"n": link.number, "field": row.field, "value": label(row.values[link.point]), "how": how}
    said = {"completed": completed, "trials": len(row.trials), **where}
    error = first.error_fact or first.error
    if error is None:
        return fact("experiment.stopped", **said)
    return fact("experiment.stopped_because", **said, error=error)
