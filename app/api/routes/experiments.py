"""/experiments: one config at several values of one field, each value run in trials, one trial at a time.

What an experiment is (its points, its checks, the spread of its figures) is the engine's (workers.experiments);
here it is translated to HTTP and kept in the store (app.experiments_store). Its trials are simulations: the
dispatcher queues them as a chain, so the next starts only once the one before it has finished.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from app.api.deps import DispatcherDep, LanguageDep, SettingsDep, StoreDep, TokenDep, request_language
from app.api.errors import STORE_UNAVAILABLE, _json_safe
from app.api.routes.simulations import drop_what_it_left
from app.dispatcher import LimitExceeded
from app.experiments_store import ExperimentNotFound, ExperimentState, ExperimentStore
from app.lifecycle import TERMINAL, InvalidTransition, Status
from app.run_folders import is_valid_id
from app.settings import Settings
from app.store import SimulationRow
from app.store_errors import SimulationNotFound
from workers.experiments import (
    ExperimentInvalid,
    ExperimentSpec,
    Plan,
    Point,
    Problem,
    Vary,
    csv_header,
    csv_rows,
    plan,
    spec_problems,
    summarise,
)
from workers.speech import DEFAULT, fact, render, said

PAGE = FilePath(__file__).resolve().parents[2] / "static" / "experiment.html"
MAX_PAGE = 100


class ExperimentRoute(APIRoute):
    """Answers a refused experiment with one message per part, in the engine's words (workers.experiments)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as e:
                errors = [dict(error) for error in e.errors()]
                in_body = [error for error in errors if tuple(error.get("loc", ()))[:1] == ("body",)]
                if not in_body or len(in_body) < len(errors) or any(e["type"] == "json_invalid" for e in in_body):
                    raise  # a query parameter, or a body that is not JSON at all: as for every other route
                lang = request_language(request)
                if any(tuple(error["loc"]) == ("body",) for error in in_body):
                    not_an_object = render(fact("experiment.not_an_object"), lang)
                    return refused([Problem((), not_an_object, None, "model_attributes_type")])
                return refused(spec_problems([{**error, "loc": tuple(error["loc"])[1:]} for error in in_body], lang))
            except ExperimentInvalid as e:
                return refused(e.problems)

        return answer


def refused(problems: Sequence[Problem]) -> JSONResponse:
    detail = [{"type": p.type, "loc": ["body", *p.loc], "msg": p.message, "input": p.input} for p in problems]
    return JSONResponse(
        {"detail": _json_safe(jsonable_encoder(detail))}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


router = APIRouter(
    prefix="/experiments", tags=["experiments"], route_class=ExperimentRoute, responses=STORE_UNAVAILABLE
)

_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "TICKETRUSH_API_TOKEN is set and no valid token came"}
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No experiment has this id"}}


class ExperimentProgress(BaseModel):
    finished: int = Field(description="Trials that have finished (completed, failed, cancelled or interrupted).")
    trials: int = Field(description="Trials in the experiment: values x trials of each.")


class ExperimentPublic(BaseModel):
    id: str
    status: Status = Field(
        description="What its trials add up to: running until all have finished, then "
        "completed, or interrupted, cancelled or failed if any trial was."
    )
    config: dict[str, Any] = Field(description="The config as given, with the seed of its first trials.")
    trials: int = Field(description="How many times each value runs; trial k of every value has seed + k - 1.")
    vary: Vary
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: ExperimentProgress
    error: str | None = Field(description="Why it did not complete, when it did not.")
    points: list[Point] = Field(description="One per value, in the order given, the figures over its completed trials.")

    @classmethod
    def from_state(cls, state: ExperimentState, lang: str = DEFAULT) -> ExperimentPublic:
        row = state.row
        return cls(
            id=row.id,
            status=state.status,
            config=row.config,
            trials=row.trials_per_point,
            vary=Vary(field=row.field, values=row.values),
            created_at=row.created_at,
            started_at=state.started_at,
            finished_at=state.finished_at,
            progress=ExperimentProgress(finished=state.finished, trials=len(row.trials)),
            error=said(state.error, lang) if state.error is not None else None,
            points=summarise(row.values, state.outcomes),
        )


class ExperimentsPublic(BaseModel):
    data: list[ExperimentPublic]
    count: int = Field(description="How many experiments there are in all, not only on this page.")


def get_experiments(request: Request) -> ExperimentStore:
    experiments: ExperimentStore = request.app.state.experiments
    return experiments


ExperimentStoreDep = Annotated[ExperimentStore, Depends(get_experiments)]


def get_experiment(
    experiment_id: Annotated[str, Path(description="The experiment's id, as given by POST /experiments.")],
    experiments: ExperimentStoreDep,
) -> ExperimentState:
    state = experiments.read(experiment_id) if is_valid_id(experiment_id) else None
    if state is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, fact("api.no_experiment", id=repr(experiment_id[:64])))
    return state


ExperimentDep = Annotated[ExperimentState, Depends(get_experiment)]


def _server_limits(experiment: Plan, check: Callable[[Any], None], settings: Settings, lang: str) -> list[Problem]:
    """What this server refuses of an experiment the engine accepts: too many trials, values or runs."""
    problems = []
    trials, values = experiment.trials_per_point, len(experiment.values)

    def line(key: str, **params: Any) -> str:
        return render(fact(key, **params), lang)

    if trials > settings.max_trials:
        many = line("experiment.max_trials", max=settings.max_trials, got=trials)
        problems.append(Problem(("trials",), many, trials, "limit_exceeded"))
    if values > settings.max_points:
        many = line("experiment.max_points", max=settings.max_points, got=values)
        problems.append(Problem(("vary", "values"), many, values, "limit_exceeded"))
    room = settings.max_running + settings.max_queued
    if not problems and trials * values > room:
        many = line("experiment.max_runs", values=values, trials=trials, runs=trials * values, room=room)
        problems.append(Problem(("trials",), many, trials, "limit_exceeded"))
    for index, point in enumerate(experiment.points):
        try:
            check(point)
        except LimitExceeded as e:
            loc = ("vary", "values", index) if e.field == experiment.field else ("config", e.field)
            refusal = line("field.refused", field=e.field, message=said(e.message, lang))
            problems.append(Problem(loc, refusal, e.value, "limit_exceeded"))
    return problems


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[TokenDep],
    responses={
        **_UNAUTHORIZED,
        400: {"description": "The body cannot be parsed at all (it is not UTF-8 text)"},
        413: {"description": "The body is larger than 16 KiB"},
        422: {"description": "A field that cannot be varied, values it refuses, or more than this server allows"},
        429: {"description": "The queue has no room for every trial (see Retry-After)"},
        503: {"description": "The server is shutting down, or the store cannot be written"},
    },
)
def create_experiment(
    spec: ExperimentSpec,
    dispatcher: DispatcherDep,
    experiments: ExperimentStoreDep,
    settings: SettingsDep,
    response: Response,
    lang: LanguageDep,
) -> ExperimentPublic:
    """Check every point, queue every trial, and answer at once; the trials run one after another."""
    experiment = plan(spec, lang=lang)
    problems = _server_limits(experiment, dispatcher.check_limits, settings, lang)
    if problems:
        raise ExperimentInvalid(problems)
    created: list[str] = []

    def store() -> list[SimulationRow]:
        row, simulations = experiments.create(experiment, spec.config)
        created.append(row.id)
        return simulations

    dispatcher.submit_chain(len(experiment.points) * experiment.trials_per_point, store)
    state = experiments.read(created[0])
    assert state is not None
    response.headers["Location"] = f"/experiments/{state.row.id}"
    return ExperimentPublic.from_state(state, lang)


@router.get("")
def list_experiments(
    experiments: ExperimentStoreDep,
    lang: LanguageDep,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> ExperimentsPublic:
    """Experiments, newest first, with how many there are in all."""
    ids, count = experiments.page(offset, limit)
    states = [s for s in map(experiments.read, ids) if s is not None]
    return ExperimentsPublic(data=[ExperimentPublic.from_state(s, lang) for s in states], count=count)


@router.get(
    "/{experiment_id}",
    response_model=ExperimentPublic,
    responses={**_NOT_FOUND, 200: {"content": {"text/csv": {}}, "description": "The experiment, or its trials as CSV"}},
)
def read_experiment(
    experiment: ExperimentDep,
    lang: LanguageDep,
    format: Annotated[Literal["json", "csv"], Query(description="csv: one row per trial")] = "json",
) -> Any:
    """Its status and, per value, the trials' ids and the spread of their figures; or one CSV row per trial."""
    if format == "json":
        return ExperimentPublic.from_state(experiment, lang)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_header(experiment.row.field))
    writer.writerows(csv_rows(experiment.row.values, experiment.outcomes))
    return Response(
        buffer.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="ticketrush-experiment-{experiment.row.id}.csv"'},
    )


@router.get("/{experiment_id}/view", include_in_schema=False)
def view_experiment(experiment_id: str) -> FileResponse:
    """The experiment's page: its charts, drawn from GET /experiments/{id}."""
    return FileResponse(PAGE)


@router.post(
    "/{experiment_id}/cancel",
    dependencies=[TokenDep],
    responses={**_UNAUTHORIZED, **_NOT_FOUND, 409: {"description": "The experiment has already finished"}},
)
def cancel_experiment(
    experiment: ExperimentDep, dispatcher: DispatcherDep, experiments: ExperimentStoreDep, lang: LanguageDep
) -> ExperimentPublic:
    """Stop its queued and running trials (the finished ones keep their results); answers once none runs."""
    if experiment.status in TERMINAL:
        now = fact(f"status.{experiment.status}")
        raise HTTPException(status.HTTP_409_CONFLICT, fact("api.experiment_finished", id=experiment.row.id, status=now))
    for outcome in reversed(experiment.outcomes):  # the last first, so that none starts while they are cancelled
        if outcome.status in {Status.QUEUED, Status.RUNNING}:
            with contextlib.suppress(InvalidTransition, SimulationNotFound):  # it finished meanwhile
                dispatcher.cancel(outcome.id)
    return ExperimentPublic.from_state(get_experiment(experiment.row.id, experiments), lang)


@router.delete(
    "/{experiment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[TokenDep],
    responses={
        **_UNAUTHORIZED,
        **_NOT_FOUND,
        409: {"description": "The experiment is queued or running"},
        503: {"description": "The server of a trial's store cannot remove its table or keys now"},
    },
)
def delete_experiment(
    experiment: ExperimentDep,
    experiments: ExperimentStoreDep,
    store: StoreDep,
    settings: SettingsDep,
    lang: LanguageDep,
) -> None:
    """Remove a finished experiment, its trials' simulations and what they left on their store's server; the
    experiment and its simulations stay (a 503 says why) while a trial's server cannot drop what it left."""
    if experiment.status not in TERMINAL:
        now = fact(f"status.{experiment.status}")
        raise HTTPException(
            status.HTTP_409_CONFLICT, fact("api.experiment_unfinished", id=experiment.row.id, status=now)
        )
    for trial in experiment.row.trials:
        simulation = store.get(trial.simulation_id)
        if simulation is not None:  # deleted on its own already
            drop_what_it_left(simulation, store, settings, lang)
    try:
        trials = experiments.delete(experiment.row.id)
    except ExperimentNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, fact("api.no_experiment", id=repr(experiment.row.id))) from None
    for sim_id in trials:
        with contextlib.suppress(SimulationNotFound):
            store.delete(sim_id)
