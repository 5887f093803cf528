"""Dependencies shared by the routes, as Annotated aliases: the 404 for an unknown simulation and the token
check are written once, here.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.dispatcher import Dispatcher
from app.run_folders import is_valid_id
from app.settings import Settings
from app.store import SimulationRow, Store
from workers.speech import fact, language


def settings_in_use(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


SettingsDep = Annotated[Settings, Depends(settings_in_use)]
StoreDep = Annotated[Store, Depends(get_store)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]


def get_simulation(
    simulation_id: Annotated[str, Path(description="The simulation's id, as given by POST /simulations.")],
    store: StoreDep,
) -> SimulationRow:
    row = store.get(simulation_id) if is_valid_id(simulation_id) else None
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, fact("api.no_simulation", id=repr(simulation_id[:64])))
    return row


SimulationDep = Annotated[SimulationRow, Depends(get_simulation)]


def get_language(
    accept_language: Annotated[str | None, Header(description="'zh' for explanations in Chinese")] = None,
    lang: Annotated[str | None, Query(description="en or zh; overrides Accept-Language")] = None,
) -> str:
    """The language the verdicts, explanations and errors are said in: ?lang=, else Accept-Language, else
    English."""
    return language(lang or accept_language)


LanguageDep = Annotated[str, Depends(get_language)]


def request_language(request: Request) -> str:
    """The same language, for an error handler or a middleware, which get no dependencies."""
    return get_language(request.headers.get("accept-language"), request.query_params.get("lang"))


_bearer = HTTPBearer(auto_error=False, description="Needed by POST and DELETE when TICKETRUSH_API_TOKEN is set.")


def check_token(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    if settings.api_token is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not secrets.compare_digest(given.encode(), settings.api_token.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            fact("api.token_needed"),
            headers={"WWW-Authenticate": "Bearer"},
        )


TokenDep = Depends(check_token)
