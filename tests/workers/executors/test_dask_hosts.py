"""Buyers on two hosts: the dask executor with its two workers in network namespaces of their own (addresses of
their own, reaching the scheduler, PostgreSQL and Redis over veth pairs), where the machine allows them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workers.executors.conftest import TwoHosts
from workers import SimulationConfig, run_simulation

pytestmark = [pytest.mark.timeout(120), pytest.mark.netns]


def test_dask_buyers_on_two_hosts_race_and_their_records_name_each_host(
    cluster_on_two_hosts: TwoHosts, run_dir: Path
) -> None:
    """Four tasks, two a host, released together, each buyer holding its read 400 ms: all four read the one
    ticket before any writes, across the hosts; each record names the host it ran on."""
    on = cluster_on_two_hosts
    config = SimulationConfig(
        executor="dask", store="redis", strategy="read-write", lock="none", buyers=4, tickets=1, think_ms=0,
        hold_ms=400,
    )  # fmt: skip
    report = run_simulation(config, run_dir, store_urls=on.store_urls, dask_scheduler=on.cluster.address)
    result = report.result
    assert (result.tickets_sold, result.tickets_handed_out, result.oversold) == (1, 4, 3)
    hosts = [r.host for r in report.records]
    assert sorted(hosts) == sorted([*on.hosts.addresses, *on.hosts.addresses])  # two buyers on each host
    first, second = on.hosts.addresses
    assert (
        f"The buyers ran in 4 dask tasks on 2 hosts ({first} and {second}), whose timestamps all come from one "
        "clock (one kernel boot: hosts of one machine share it)"
    ) in result.explanation
    conflict = result.conflicts[0]
    assert conflict.size == 4  # one reading, sold by buyers of both hosts


def test_dask_buyers_on_two_hosts_sell_exactly_with_postgres_for_update(
    cluster_on_two_hosts: TwoHosts, run_dir: Path
) -> None:
    on = cluster_on_two_hosts
    config = SimulationConfig(
        executor="dask", store="postgres", strategy="for-update", buyers=200, tickets=37, think_ms=0, hold_ms=0
    )
    report = run_simulation(config, run_dir, store_urls=on.store_urls, dask_scheduler=on.cluster.address)
    result = report.result
    assert (result.tickets_sold, result.tickets_handed_out, result.oversold, result.buyers_errored) == (37, 37, 0, 0)
    by_host = {host: sum(r.host == host for r in report.records) for host in on.hosts.addresses}
    assert by_host == dict.fromkeys(on.hosts.addresses, 100)  # 4 tasks of 50 buyers, two tasks a host
