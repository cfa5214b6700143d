"""The Dask client for ENGINE=dask: DASK_SCHEDULER=address joins an existing cluster,
otherwise a LocalCluster sized to this machine is started (and closed at exit)."""

from __future__ import annotations

import atexit
import os

from distributed import Client, LocalCluster

_client: Client | None = None


def get_client(processes: bool | None = None) -> Client:
    """The process's one client, created on first use.

    A script starting process workers needs an `if __name__ == "__main__":` guard;
    DASK_PROCESSES=0 (or processes=False) keeps the workers as threads in this process.
    """
    global _client
    if _client is not None and _client.status == "running":
        return _client
    address = os.environ.get("DASK_SCHEDULER", "").strip()
    if address:
        _client = Client(address)
    else:
        if processes is None:
            processes = os.environ.get("DASK_PROCESSES", "1") != "0"
        n = max(1, min(int(os.environ.get("DASK_WORKERS", "2")), os.cpu_count() or 1))
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=processes,
                               dashboard_address=None)
        _client = Client(cluster)
        atexit.register(cluster.close)
    atexit.register(_client.close)
    return _client


def close_client() -> None:
    global _client
    if _client is not None:
        cluster = _client.cluster
        _client.close()
        if cluster is not None:
            cluster.close()
    _client = None


def n_workers(client: Client) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))
