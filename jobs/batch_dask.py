"""score-batch ENGINE=dask: chunks are scored in parallel on Dask workers.

The client reads and splits the folder (jobs/batch_reader.py) and writes
the output and the audit chain in chunk order (one chain, one writer); the
workers validate, build features and explain, each loading the champion from
its path once (checksums verified there too). DASK_SCHEDULER=address joins an
existing cluster, whose workers must see the same models/ path; otherwise a
LocalCluster is started (compute/dask_client.py, shared with training).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from distributed import Client

from compute.dask_client import close_client, get_client, n_workers
from features.records import RawRecords
from jobs.batch_reader import ChunkedRecords
from jobs.batch_scoring import ScoredChunk, score_chunk
from riskmodel.predictor import RiskModel


@lru_cache(maxsize=4)
def _worker_model(path: str) -> RiskModel:
    return RiskModel.load(Path(path))


def _score_on_worker(path: str, raw: RawRecords) -> ScoredChunk:
    return score_chunk(_worker_model(path), raw)


def dask_scorer(model_path: Path, client: Client | None = None, window: int | None = None):
    """A run_batch scorer: at most `window` chunks in flight, results in chunk order."""

    def scorer(_model: RiskModel, records: ChunkedRecords) -> Iterator[tuple[int, ScoredChunk]]:
        own = client is None
        c = client or get_client()
        ahead = window or 2 * n_workers(c)
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
                close_client()

    return scorer
