"""A buyer process: wait at the start line, run its share of buyers one after another (one buyer per process,
or many in a pool) with the run's strategy, and send their records in batches over the result channel."""

from __future__ import annotations

import os
import time

from workers.channel import RecordChannel
from workers.errors import TicketrushError
from workers.gates import StartLine
from workers.hygiene import die_with_parent
from workers.messages import BuyerRecord
from workers.speech import fact, said
from workers.strategies.base import Strategy

BATCH_SIZE = 2000
BATCH_INTERVAL_S = 0.05


def buyer_process(
    share: int, buyers: range, strategy: Strategy, start: StartLine | None, results: RecordChannel
) -> None:
    """Process target: open the store (a connection of its own) and say so, wait for the start signal, then run
    `buyers` and report them in batches. A store that cannot be opened fails every buyer of the process with its
    reason."""
    plan = strategy.plan
    die_with_parent(plan.parent_pid)
    try:
        _open(strategy)
    except TicketrushError as e:
        results.send([BuyerRecord(b, os.getpid(), "error", error=str(e), error_fact=e.fact) for b in buyers])
        return
    finally:
        if strategy.opened is not None:
            strategy.opened.release()  # at the start line, connected (or failed): the launcher may release them
    if start is not None and not start.wait(plan.start_timeout_s):
        reason = fact("buyer.not_released", seconds=f"{plan.start_timeout_s:g}")
        results.send([BuyerRecord(b, os.getpid(), "error", error=said(reason), error_fact=reason) for b in buyers])
        return
    strategy.after_fork(share)
    run_buyers(buyers, strategy, results)


def run_buyers(buyers: range, strategy: Strategy, results: RecordChannel) -> None:
    """Run `buyers` one after another, reporting them in batches; close the store and the strategy when done."""
    batch: list[BuyerRecord] = []
    flushed = time.monotonic()
    _open(strategy)
    try:
        for buyer in buyers:
            batch.append(strategy.buy(buyer))
            if len(batch) >= BATCH_SIZE or time.monotonic() - flushed >= BATCH_INTERVAL_S:
                results.send(batch)
                batch = []
                flushed = time.monotonic()
        if batch:
            results.send(batch)
    finally:
        strategy.store.close()
        strategy.close()


def _open(strategy: Strategy) -> None:
    """Open the store in this process, if this strategy's buyers use it (opening an open store does nothing)."""
    if strategy.buyers_open_store:
        strategy.store.open()
