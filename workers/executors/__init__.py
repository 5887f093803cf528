"""Who runs the buyers, beyond one host.

process, pool   workers.launcher: buyer processes forked on this host, reporting over one pipe
dask            workers.executors.dask_executor (this host's side) and dask_tasks (the cluster's side):
                batched tasks on the workers of a Dask cluster, reporting over a distributed Queue
clocks          one clock for the records of several hosts, through the store's server
"""
