"""The API fuzzed from its own OpenAPI schema (schemathesis, in-process ASGI): no 5xx, every response as
documented, every invalid input refused with a 4xx.

The app runs on a temporary data directory with small limits: at most 10 buyers and a 2 s time limit per run,
one run at a time and a queue of 3 (then 429), so the simulations the fuzzer manages to start stay tiny. An API
token is set, so schemathesis also checks that POST and DELETE refuse a request without it. Generated ids are
mostly unknown (404); some cases are pointed at real simulations instead, so cancel, delete and the reads also
meet ids that exist. At the end the app shuts down: no run process may remain, nothing may have been written
outside the data directory, and no answer may have been a 5xx.
"""

from __future__ import annotations

import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import resource_tracker
from typing import Any

import psutil
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from live_server import wait_for
from pydantic import ValidationError
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.main import create_app
from app.settings import Settings
from workers.experiments import ExperimentInvalid, ExperimentSpec, plan

pytestmark = pytest.mark.slow  # a few hundred requests; `make test` keeps the targeted hostile-input tests

EXAMPLES_PER_OPERATION = 30
MIN_REQUESTS = 300
TOKEN = "fuzz-token"
LIMITS: dict[str, Any] = {
    "api_token": TOKEN,
    "max_running": 1,
    "max_queued": 3,
    "max_buyers": 10,
    "max_process_buyers": 10,
    "run_timeout_s": 2.0,
}


class AppUnderTest:
    """The ASGI app schemathesis calls: it forwards to the app the `fuzzing` fixture builds on its own data
    directory (so nothing starts at import time), and counts every request and the statuses of the answers,
    including the extra requests schemathesis's checks make."""

    def __init__(self) -> None:
        self.app: FastAPI | None = None
        self.statuses: Counter[int] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "the fuzzing fixture has not started the app"

        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.statuses[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, counting_send if scope["type"] == "http" else send)


APP = AppUnderTest()
schema = schemathesis.openapi.from_dict(create_app().openapi())  # only the OpenAPI document of a fresh app
schema.app = APP
SEED_BOUND = 2**63  # seeds are < 2**63; the OpenAPI document gives the bound as a float (2**63 exactly)
FLOAT_STEP = 1024  # the gap between neighbouring floats near 2**63


def seed_clear_of_its_bound(case: schemathesis.Case) -> None:
    """Move a generated seed that lies within one float step of its bound to the side it was meant to be on.

    Schemathesis reads the bound as a float and compares with it in float arithmetic, where those integers
    equal the bound: it generated 2**63 + 190 as a valid seed. Valid cases get the largest valid seed, invalid
    ones a seed clearly past the bound. The exact bound is checked by hand in test_hostile_input.py.
    """
    seed = case.body.get("seed") if isinstance(case.body, dict) else None
    if isinstance(seed, int) and abs(seed - SEED_BOUND) <= FLOAT_STEP:
        valid = case.meta is None or case.meta.generation.mode.is_positive
        case.body = {**case.body, "seed": SEED_BOUND - 1 if valid else SEED_BOUND + 2 * FLOAT_STEP}


def valid_config_is_accepted_within_the_limits(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """positive_data_acceptance for POST /simulations: a config the schema calls valid is queued (202), or
    refused because the queue is full (429), or refused with a 422 for rules the schema does not express only:

    - it asks for more buyers than this server allows (TICKETRUSH_MAX_BUYERS, TICKETRUSH_MAX_PROCESS_BUYERS:
      settings, so not in the schema);
    - a [min, max] delay range with min > max;
    - choices that do not go together (a strategy on a store it does not run on, a lock or permits or retries
      for a strategy that takes none, a lock kept by another store's server, a TTL for a lock that has none, a
      pool size for the process executor, an executor whose buyers run on other hosts with a store or lock of
      one host: `workers.support`);
    - a store on a server this service was given no URL for (its setting names it);
    - it writes a whole number as a float (`"workers": 76.0`): JSON Schema counts that as an integer, the
      API's strict types do not (as they refuse `"10"` and `false`).
    """
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code in (202, 429):
        return None
    errors = response.json()["detail"] if response.status_code == 422 else []
    counting = case.operation.label == "POST /interleavings"
    assert errors and all(_beyond_the_schema(e) or (counting and e["loc"][-1] in COUNTED_FIELDS) for e in errors), (
        f"a valid config got {response.status_code}: {response.text}"
    )
    return True


def valid_experiment_is_refused_only_as_the_engine_refuses(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """positive_data_acceptance for POST /experiments: its schema takes any list of values, and which ones a field
    takes is the engine's to say (workers.experiments.plan, which checks every point with SimulationConfig). A
    schema-valid experiment is queued (202) or refused for room (429); a 422 comes only for one plan() refuses,
    or for this server's limits (limit_exceeded)."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return None
    try:
        plan(ExperimentSpec.model_validate(case.body))
    except (ValidationError, ExperimentInvalid):
        return True
    errors = response.json()["detail"]
    assert errors and all(e["type"] == "limit_exceeded" for e in errors), f"a valid experiment got 422: {response.text}"
    return True


def _beyond_the_schema(error: dict[str, Any]) -> bool:
    value = error.get("input")
    return (
        error["type"] == "limit_exceeded"
        or (error["type"] == "value_error" and isinstance(value, list) and len(value) == 2 and value[0] > value[1])
        or (error["type"] == "value_error" and error["loc"][-1] in PAIRED_FIELDS)
        or (error["type"] == "int_type" and isinstance(value, float) and value.is_integer())
    )


PAIRED_FIELDS = {"strategy", "lock", "permits", "lock_ttl_ms", "max_retries", "workers", "schedule", "mode", "executor"}
COUNTED_FIELDS = {"buyers", "strategy"}  # POST /interleavings counts up to 4 buyers of a strategy with steps
CONFIG_BODIES = ("POST /simulations", "POST /interleavings")


@dataclass
class Fuzzing:
    client: asgi.ASGIClient
    real_ids: list[str]


@pytest.fixture(scope="module")
def fuzzing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzing]:
    threads_before = threading.active_count()
    root = tmp_path_factory.mktemp("fuzz")
    data_dir = root / "data"
    APP.app = create_app(Settings(data_dir=data_dir, **LIMITS))
    with asgi.get_client(APP) as client:  # starts the app's lifespan, which lasts until shutdown_lifespans()
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        done = client.post("/simulations", json={"buyers": 2, "think_ms": 0, "hold_ms": 0}).json()["id"]
        wait_for(lambda: client.get(f"/simulations/{done}").json()["status"] == "completed", 30, "a first run")
        busy = client.post("/simulations", json={"buyers": 1, "think_ms": 60_000, "hold_ms": 0}).json()["id"]
        state = Fuzzing(client, [done, busy])
        yield state
    # The app's shutdown (it cancels what is still queued or running), then schemathesis's event loop thread,
    # which it would otherwise keep until exit: later engine tests fork buyers only from a one-thread process.
    asgi._shutdown()
    APP.app = None
    wait_for(lambda: threading.active_count() == threads_before, 15, "schemathesis's event loop thread to end")
    resource_tracker._resource_tracker._stop()  # as no_leftover_children does: started by the first spawn
    wait_for(lambda: psutil.Process().children(recursive=True) == [], 15, "every run process to be gone")
    outside = [p for p in root.rglob("*") if not p.is_relative_to(data_dir) and p != data_dir]
    assert outside == [], outside
    requests = APP.statuses.total()
    print(f"\nfuzz: {requests} requests, answers by status {dict(sorted(APP.statuses.items()))}")
    assert requests >= MIN_REQUESTS
    assert all(status < 500 for status in APP.statuses), APP.statuses


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_fuzz_api_answers_as_documented(case: schemathesis.Case, fuzzing: Fuzzing) -> None:
    generated = (case.path_parameters or {}).get("simulation_id")
    if isinstance(generated, str) and (pick := zlib.crc32(generated.encode()) % 4) < len(fuzzing.real_ids):
        case.path_parameters = {**case.path_parameters, "simulation_id": fuzzing.real_ids[pick]}

    seed_clear_of_its_bound(case)
    own_checks = {
        **{label: [valid_config_is_accepted_within_the_limits] for label in CONFIG_BODIES},
        "POST /experiments": [valid_experiment_is_refused_only_as_the_engine_refuses],
    }.get(case.operation.label, [])
    case.call_and_validate(
        session=fuzzing.client,
        excluded_checks=[positive_data_acceptance] if own_checks else [],
        additional_checks=own_checks,
    )
