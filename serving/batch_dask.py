"""score-batch ENGINE=dask: chunks are scored in parallel on Dask workers.

The client reads and splits the folder (serving/batch_reader.py) and writes
the output and the audit chain in chunk order (one chain, one writer); the
workers validate, build features and explain, each loading the champion from
its path once (checksums verified there too). DASK_SCHEDULER=address joins an
existing cluster, whose workers must see the same models/ path; otherwise a
LocalCluster is started. (serving/ never imports training/, so this small
client set-up is its own.)
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from distributed import Client, LocalCluster

from features.records import RawRecords
from riskmodel.predictor import RiskModel
from serving.batch_reader import ChunkedRecords
from serving.batch_scoring import ScoredChunk, score_chunk


def batch_client() -> Client:
    address = os.environ.get("DASK_SCHEDULER", "").strip()
    if address:
        return Client(address)
    n = max(1, min(int(os.environ.get("DASK_WORKERS", "2")), os.cpu_count() or 1))
    processes = os.environ.get("DASK_PROCESSES", "1") != "0"
    return Client(LocalCluster(n_workers=n, threads_per_worker=1, processes=processes,
                               dashboard_address=None))


@lru_cache(maxsize=4)
def _worker_model(path: str) -> RiskModel:
    return RiskModel.load(Path(path))


def _score_on_worker(path: str, raw: RawRecords) -> ScoredChunk:
    return score_chunk(_worker_model(path), raw)


def dask_scorer(model_path: Path, client: Client | None = None, window: int | None = None):
    """A run_batch scorer: at most `window` chunks in flight, results in chunk order."""

    def scorer(_model: RiskModel, records: ChunkedRecords) -> Iterator[tuple[int, ScoredChunk]]:
        own = client is None
        c = client or batch_client()
        ahead = window or 2 * max(1, len(c.scheduler_info().get("workers", {})))
        pending: deque = deque()
        try:
            for k in range(len(records)):
                pending.append((k, c.submit(_score_on_worker, str(model_path), records.chunk(k),
                                            pure=False)))
                if len(pending) >= ahead:
                    i, future = pending.popleft()
                    yield i, future.result()
            while pending:
                i, future = pending.popleft()
                yield i, future.result()
        finally:
            if own:
                cluster = c.cluster
                c.close()
                if cluster is not None:
                    cluster.close()

    return scorer
