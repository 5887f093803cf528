"""Assembles the FastAPI application: settings, store and dispatcher in the lifespan, routers, the dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.api.body_limit import BodyLimit
from app.api.errors import add_exception_handlers
from app.api.routes import cures, experiments, interleavings, ops, simulations, steps
from app.dispatcher import Dispatcher
from app.experiments_store import ExperimentStore
from app.ownership import DataDirClaim
from app.settings import Settings, settings_from_environment
from app.store import Store

STATIC_DIR = Path(__file__).parent / "static"
SWAGGER_UI = "/static/vendor/swagger-ui"  # swagger-ui-dist from npm, its version in package.json there
# A simulation config is a few hundred bytes. Without a limit a 10 MB body is read whole, echoed back in its 422
# and, as a list of five million delays, validated for 20 s on the event loop; past this many bytes it is a 413.
MAX_BODY_BYTES = 16 * 1024


def create_app(settings: Settings | None = None, claim: DataDirClaim | None = None) -> FastAPI:
    """The application; `settings` default to the TICKETRUSH_* environment, read when the app starts.

    The app claims its data dir before touching it (DataDirInUse if another server has it), unless given the
    `claim` already taken (`ticketrush serve` takes it first, to refuse in one line); it releases it on exit.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = current = settings or settings_from_environment()
        owned = claim or DataDirClaim.take(current.data_dir)
        try:
            app.state.store = store = Store(current.data_dir)
            store.init()
            app.state.experiments = ExperimentStore(store)
            app.state.experiments.init()
            app.state.dispatcher = dispatcher = Dispatcher(store, current)
            dispatcher.start()
            try:
                yield
            finally:
                await anyio.to_thread.run_sync(dispatcher.close)
                store.close()
        finally:
            owned.release()

    app = FastAPI(
        title="ticketrush",
        summary="See, measure and explain overselling in a ticket rush.",
        lifespan=lifespan,
        docs_url=None,  # served below from our own files: FastAPI's page loads Swagger UI from a CDN
        redoc_url=None,  # ReDoc's page loads its code and fonts from outside too; /docs is the API's documentation
    )
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    add_exception_handlers(app)
    app.include_router(simulations.router)
    app.include_router(steps.router)
    app.include_router(interleavings.router)
    app.include_router(experiments.router)
    app.include_router(ops.router)
    app.include_router(cures.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title}: API docs",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from the online validator
        )

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    return app


app = create_app()
