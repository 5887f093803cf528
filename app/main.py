"""Assembles the FastAPI application."""

from fastapi import FastAPI

app = FastAPI(title="ticketrush", summary="See, measure and explain overselling in a ticket rush.")


@app.get("/healthz", tags=["ops"])
def healthz() -> dict[str, str]:
    return {"status": "ok"}
