"""Operations: liveness and Prometheus metrics."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, choose_encoder

from app.api.deps import StoreDep
from app.api.errors import STORE_UNAVAILABLE
from app.lifecycle import Status
from app.store import Store

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


class StoreCollector:
    """The store's figures as Prometheus metrics, read when scraped: run processes write them, not this one.

    Simulations by status form a gauge (deleting one takes it away); buyers, tickets sold and tickets oversold
    are counters over every completed run since the store was made, deleted ones included, kept in the store
    so that a restart does not set them back.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        totals = self.store.totals()
        simulations = GaugeMetricFamily(
            "ticketrush_simulations", "Simulations in the store, by status.", labels=["status"]
        )
        for status in Status:
            simulations.add_metric([status.value], totals.by_status[status])
        yield simulations
        for name, help_text, value in (
            ("ticketrush_buyers", "Buyers run by completed simulations.", totals.buyers),
            ("ticketrush_tickets_sold", "Tickets sold by completed simulations.", totals.tickets_sold),
            ("ticketrush_tickets_oversold", "Tickets oversold by completed simulations.", totals.tickets_oversold),
        ):
            yield CounterMetricFamily(name, help_text + " Deleting a simulation does not lower it.", value=value)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}}, **STORE_UNAVAILABLE},
)
def metrics(request: Request, store: StoreDep) -> Response:
    """Prometheus metrics: simulations by status (gauge); buyers run, tickets sold and oversold (counters)."""
    registry = CollectorRegistry()
    registry.register(StoreCollector(store))
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(registry), media_type=content_type)
