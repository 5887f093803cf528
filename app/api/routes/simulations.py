"""/simulations: start a ticket rush, follow it, read its buyers, stop it, delete it."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, Iterator
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.responses import StreamingResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent

from app.api.deps import DispatcherDep, LanguageDep, SettingsDep, SimulationDep, StoreDep, TokenDep
from app.api.errors import STORE_UNAVAILABLE
from app.lifecycle import ACTIVE, TERMINAL, Status
from app.schemas import (
    BuyerPublic,
    BuyersPublic,
    Progress,
    SimulationCreate,
    SimulationPublic,
    SimulationsPublic,
)
from app.settings import Settings, store_url_problem
from app.store import SimulationRow, Store
from app.store_errors import SimulationNotFound
from workers import BuyerRecord, TicketrushError, drop_store
from workers.messages import TIMESTAMPS
from workers.speech import Fact, fact, told

EVENTS_POLL_S = 0.2
MAX_PAGE = 1000
MAX_BUYERS_PAGE = 10_000
MAX_OFFSET = 2**63 - 1  # SQLite's largest integer; a larger offset cannot even be passed to it

router = APIRouter(prefix="/simulations", tags=["simulations"], responses=STORE_UNAVAILABLE)

_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "TICKETRUSH_API_TOKEN is set and no valid token came"}
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No simulation has this id"}}


class ProgressEvent(Progress):
    status: Status


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[TokenDep],
    responses={
        **_UNAUTHORIZED,
        400: {"description": "The body cannot be parsed at all (it is not UTF-8 text)"},
        413: {"description": "The body is larger than any simulation config (16 KiB)"},
        422: {"description": "Invalid config, or more buyers than this server allows"},
        429: {"description": "As many simulations are running and queued as this server takes (see Retry-After)"},
        503: {"description": "The server is shutting down, or the store cannot be written"},
    },
)
def create_simulation(config: SimulationCreate, dispatcher: DispatcherDep, response: Response) -> SimulationPublic:
    """Queue a simulation and answer at once; it runs in a process of its own when a slot is free."""
    row = dispatcher.submit(config)
    response.headers["Location"] = f"/simulations/{row.id}"
    return SimulationPublic.from_row(row)


@router.get("")
def list_simulations(
    store: StoreDep,
    lang: LanguageDep,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> SimulationsPublic:
    """Simulations, newest first, with how many there are in all."""
    rows, count = store.page(offset, limit)
    return SimulationsPublic(data=[SimulationPublic.from_row(r, lang) for r in rows], count=count)


@router.get("/{simulation_id}", responses=_NOT_FOUND)
def read_simulation(simulation: SimulationDep, lang: LanguageDep) -> SimulationPublic:
    """The simulation; its verdict and explanation in the language of Accept-Language (or ?lang=en|zh)."""
    return SimulationPublic.from_row(simulation, lang)


_ERROR_AT = BuyerRecord._fields.index("error")
_FACT_AT = BuyerRecord._fields.index("error_fact")  # said as `error`, not a column of its own
CSV_FIELDS = tuple(name for name in BuyerRecord._fields if name != "error_fact")


def _csv_chunks(store: Store, sim_id: str, lang: str) -> Iterator[str]:
    """Every record with its raw monotonic_ns times, then each time again in ms from the run's first t_start; its
    error said in `lang`."""
    origin = store.buyer_files.first_start(sim_id)

    def relative(t: int | None) -> float | None:
        return None if t is None or origin is None else (t - origin) / 1e6

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CSV_FIELDS, *(f"{name}_ms" for name in TIMESTAMPS)])
    yield buffer.getvalue()
    for records in store.buyer_files.chunks(sim_id):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(
            [
                *r[:_ERROR_AT],
                r.error_in(lang),
                *r[_ERROR_AT + 1 : _FACT_AT],
                *r[_FACT_AT + 1 :],
                *(relative(getattr(r, name)) for name in TIMESTAMPS),
            ]
            for r in records
        )
        yield buffer.getvalue()


@router.get(
    "/{simulation_id}/buyers",
    response_model=BuyersPublic,
    responses={
        **_NOT_FOUND,
        200: {"content": {"text/csv": {}}, "description": "A page of buyers, or all as CSV"},
        409: {"description": "The simulation is queued or running: its records are saved when it finishes"},
    },
)
def read_buyers(
    simulation: SimulationDep,
    store: StoreDep,
    lang: LanguageDep,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_BUYERS_PAGE)] = 100,
    format: Annotated[Literal["json", "csv"], Query(description="csv: every record, streamed")] = "json",
) -> Any:
    """What each buyer did and when: a page of records, or with `format=csv` the whole set; why a buyer gave up or
    failed (`error`) in the language of Accept-Language (or ?lang=en|zh).

    A simulation that stopped before finishing (failed, cancelled, interrupted) has no records.
    """
    if simulation.status in ACTIVE:
        now = fact(f"status.{simulation.status}")
        raise HTTPException(status.HTTP_409_CONFLICT, fact("api.records_unsaved", id=simulation.id, status=now))
    if format == "csv":
        return StreamingResponse(
            _csv_chunks(store, simulation.id, lang),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="ticketrush-{simulation.id}-buyers.csv"'},
        )
    records, count = store.buyer_files.page(simulation.id, offset, limit)
    return BuyersPublic(data=[BuyerPublic.from_record(r, lang) for r in records], count=count)


@router.get("/{simulation_id}/events", response_class=EventSourceResponse, responses=_NOT_FOUND)
async def simulation_events(
    simulation: SimulationDep, store: StoreDep, lang: LanguageDep
) -> AsyncIterable[ServerSentEvent]:
    """Server-Sent Events: `progress` ({status, finished, buyers}) whenever it changes while the simulation is
    queued or running, then one `simulation` event with the whole simulation once it has finished; then the
    stream ends.
    """
    row = simulation
    last: ProgressEvent | None = None
    while row.status not in TERMINAL:
        progress = ProgressEvent(status=row.status, finished=row.finished, buyers=row.buyers)
        if progress != last:
            yield ServerSentEvent(event="progress", data=progress)
            last = progress
        await anyio.sleep(EVENTS_POLL_S)
        found = await anyio.to_thread.run_sync(store.get, row.id)
        if found is None:
            return
        row = found
    yield ServerSentEvent(event="simulation", data=SimulationPublic.from_row(row, lang))


@router.post(
    "/{simulation_id}/cancel",
    dependencies=[TokenDep],
    responses={**_UNAUTHORIZED, **_NOT_FOUND, 409: {"description": "The simulation has already finished"}},
)
def cancel_simulation(simulation: SimulationDep, dispatcher: DispatcherDep, store: StoreDep) -> SimulationPublic:
    """Stop a queued or running simulation; answers once none of its processes remain."""
    dispatcher.cancel(simulation.id)
    row = store.get(simulation.id)
    if row is None:
        raise SimulationNotFound(simulation.id)
    return SimulationPublic.from_row(row)


@router.delete(
    "/{simulation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[TokenDep],
    responses={
        **_UNAUTHORIZED,
        **_NOT_FOUND,
        409: {"description": "The simulation is queued or running"},
        503: {"description": "The server of the simulation's store cannot remove its table or keys now"},
    },
)
def delete_simulation(simulation: SimulationDep, store: StoreDep, settings: SettingsDep, lang: LanguageDep) -> None:
    """Remove a finished simulation, its buyer records, its run folder and what it left on its store's server."""
    if simulation.status not in TERMINAL:  # the store refuses it too, should it start meanwhile
        now = fact(f"status.{simulation.status}")
        raise HTTPException(status.HTTP_409_CONFLICT, fact("api.delete_unfinished", id=simulation.id, status=now))
    drop_what_it_left(simulation, store, settings, lang)
    store.delete(simulation.id)


def drop_what_it_left(simulation: SimulationRow, store: Store, settings: Settings, lang: str) -> None:
    """Remove what a finished simulation left on its store's server (a table, keys); a 503 that says why, when
    that server is not set or cannot be reached now. Dropping twice is harmless, so a refused delete can be
    tried again."""
    urls = settings.store_urls()  # for good: a finished simulation never runs again
    why: str | Fact | None
    try:
        why = store_url_problem(simulation.config.store, urls)
        if why is None:
            drop_store(simulation.config, store.folders.path(simulation.id), urls)
    except TicketrushError as e:
        why = told(e, lang)
    if why is not None:
        kept = fact("api.store_kept", id=simulation.id, store=simulation.config.store, why=why)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, kept)
