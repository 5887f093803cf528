"""Operations: liveness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.deps import StoreDep
from app.api.errors import STORE_UNAVAILABLE
from app.lifecycle import Status
from app.store import Totals

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def render_metrics(totals: Totals) -> str:
    lines = [
        "# HELP ticketrush_simulations Simulations in the store, by status.",
        "# TYPE ticketrush_simulations gauge",
        *(f'ticketrush_simulations{{status="{s}"}} {totals.by_status.get(s, 0)}' for s in Status),
    ]
    for name, help_text, value in (
        ("buyers_total", "Buyers run, over the completed simulations in the store.", totals.buyers),
        ("tickets_sold_total", "Tickets sold, over the completed simulations in the store.", totals.tickets_sold),
        (
            "tickets_oversold_total",
            "Tickets oversold, over the completed simulations in the store.",
            totals.tickets_oversold,
        ),
    ):
        lines += [
            f"# HELP ticketrush_{name} {help_text}",
            f"# TYPE ticketrush_{name} gauge",
            f"ticketrush_{name} {value}",
        ]
    return "\n".join(lines) + "\n"


@router.get(
    "/metrics", response_class=Response, responses={200: {"content": {PROMETHEUS_TEXT: {}}}, **STORE_UNAVAILABLE}
)
def metrics(store: StoreDep) -> Response:
    """Prometheus text format: simulations by status, buyers run, tickets sold and oversold."""
    return Response(render_metrics(store.totals()), media_type=PROMETHEUS_TEXT)
