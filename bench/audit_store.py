"""Audit cost per event of the batch job (SQLite, PostgreSQL) and what the audit adds to /score.

    python -m bench.audit_store [--model DIR] [--data DIR] [--rounds N]
                                [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Runs in throw-away stores (a temp folder, a temp PostgreSQL schema). `measure` is the
figure of issue 16 (`bench.run` calls it); the CLI prints it, then the older figures:
appends per second one event per commit and 50 per commit, and the single-course
/score cost measured in-process on the serving code path, with and without the audit
write, in the same run and interleaved.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from audit import AuditStore, init_installation
from audit.paths import AuditPaths
from devtools.example_course import example_request
from jobs.batch_audit import audit_chunk
from jobs.batch_scoring import ScoredChunk
from riskmodel.predictor import RiskModel
from serving.recording import prediction_events
from serving.schemas import ScoreRequest
from serving.scoring import score_courses

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgres")


@contextmanager
def _store(backend: str, pg_url: str, tmp: Path) -> Iterator[AuditStore]:
    """A new installation on `backend`, opened as the job opens it (no background
    checkpoint thread: its signing would fall into the timed region at random)."""
    paths = AuditPaths.under(tmp / backend)
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'audit.db'}"
        init_installation(url, paths)
        with AuditStore(url, paths=paths, background_checkpoints=False) as store:
            yield store
        return
    schema = f"audit_bench_{secrets.token_hex(4)}"
    admin = create_engine(pg_url)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
        pg = url.render_as_string(hide_password=False)
        init_installation(pg, paths)
        with AuditStore(pg, paths=paths, background_checkpoints=False) as store:
            yield store
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()


def _scored_chunks(model: RiskModel, data_dir: Path) -> tuple[list[ScoredChunk], list[float]]:
    """The job's chunks of `data_dir`, scored (outside any timed region), with each chunk's
    scoring time per course (the latency its events carry, as in the job)."""
    from jobs.batch_reader import ChunkedRecords
    from jobs.batch_scoring import score_chunk
    from jobs.score_batch import DEFAULT_CHUNK

    chunks, latency = [], []
    for raw in ChunkedRecords(data_dir, DEFAULT_CHUNK):
        t0 = time.perf_counter()
        scored = score_chunk(model, raw)
        if len(scored):
            chunks.append(scored)
            latency.append((time.perf_counter() - t0) * 1000 / len(scored))
    return chunks, latency


def _round(store: AuditStore, model: RiskModel, chunks: list[ScoredChunk],
           latency: list[float]) -> float:
    """Microseconds per event of one round: every chunk's audit, as the job does it."""
    job_id = secrets.token_hex(16)
    n = sum(len(c) for c in chunks)
    t0 = time.perf_counter()
    for chunk, ms in zip(chunks, latency, strict=True):
        audit_chunk(store, model, chunk, job_id=job_id, caller_sub="batch:bench",
                    caller_role="batch", latency_ms=ms)
    # SQLite indexes the rows' lookup keys after their commit (migration sqlite/0006): that
    # work is theirs too, timed here rather than left to the background thread.
    if store.dialect == "sqlite":
        store.index_lookup_keys()
    return (time.perf_counter() - t0) * 1e6 / n


def measure(pg_url: str, rounds: int = 5, *, model_dir: Path, data_dir: Path) -> dict:
    """Audit cost per event of the audited batch job, in microseconds, wall time.

    One round is the audit work of `jobs.score_batch.run_batch` on every course of
    `data_dir` (its chunks, scored by the model in `model_dir`): for each chunk, build
    the prediction rows of all its courses (keyed surrogates, canonical JSON texts),
    chain them (HMAC), write them and commit (`jobs.batch_audit.audit_chunk`), until
    the last chunk's commit has returned, and on SQLite index their lookup keys; divided
    by the number of events.

    Not timed: reading, validating, featuring and scoring the courses (done once before
    the rounds), the job's own batch-job event and its closing checkpoint, and the store's
    set-up. Background checkpoints are off, so no signing runs during a round. One
    untimed warm-up round runs first on each backend; all rounds append to one store per
    backend, so the chain grows by one round's events each time, as a store does.

    Returns {"sqlite": ..., "postgres": ...}, each {"us_per_event": median, "min", "max",
    "rounds": [us per round]} or {"skipped": reason}, plus the events per round.
    """
    model = RiskModel.load(model_dir)
    chunks, latency = _scored_chunks(model, data_dir)
    n = sum(len(c) for c in chunks)
    out: dict[str, Any] = {"events_per_round": n, "chunks": len(chunks)}
    if not n:
        return {**out, **{b: {"skipped": f"no scorable course in {data_dir}"} for b in BACKENDS}}
    for backend in BACKENDS:
        if backend == "postgres" and pg_url == "skip":
            out[backend] = {"skipped": "no PostgreSQL URL given"}
            continue
        try:
            with tempfile.TemporaryDirectory() as tmp, _store(backend, pg_url, Path(tmp)) as st:
                _round(st, model, chunks, latency)  # warm-up
                per_round = [_round(st, model, chunks, latency) for _ in range(rounds)]
                assert st.head()[0] == n * (rounds + 1)
        except Exception as exc:  # noqa: BLE001 - reported as the figure's reason
            out[backend] = {"skipped": f"{backend} failed: {type(exc).__name__}: {exc}"[:300]}
            continue
        out[backend] = {"us_per_event": statistics.median(per_round), "min": min(per_round),
                        "max": max(per_round), "rounds": per_round}
    return out


# -- the older figures: appends per second and the single-course /score ----------------


def throughput(store: AuditStore, model: RiskModel, n: int, batch: int) -> float:
    """Events per second appended `batch` per commit, each batch's rows built as /score builds
    a request's (the courses are scored once, before the clock)."""
    courses = list(ScoreRequest.model_validate(example_request()).courses) * batch
    scored = score_courses(model, courses)
    t0 = time.perf_counter()
    for _ in range(0, n, batch):
        store.append_rows(prediction_events(store, model, courses, scored, request_id="bench",
                                            caller_sub="bench", caller_role="clinician",
                                            endpoint="/score", latency_ms=1.0))
    return n / (time.perf_counter() - t0)


def score_cost(store: AuditStore, model: RiskModel, rounds: int) -> dict[str, float]:
    courses = list(ScoreRequest.model_validate(example_request()).courses)
    plain, audited = [], []
    for _ in range(rounds):  # interleaved, so both see the same machine load
        t0 = time.perf_counter()
        score_courses(model, courses)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        scored = score_courses(model, courses)
        store.append_rows(prediction_events(store, model, courses, scored, request_id="b",
                                            caller_sub="b", caller_role="clinician",
                                            endpoint="/score", latency_ms=1.0))
        audited.append(time.perf_counter() - t0)
    med_p, med_a = statistics.median(plain) * 1e3, statistics.median(audited) * 1e3
    return {"score_ms": med_p, "score_audited_ms": med_a, "audit_adds_ms": med_a - med_p}


def _report(name: str, store: AuditStore, model: RiskModel, n: int, rounds: int) -> None:
    one = throughput(store, model, n, 1)
    fifty = throughput(store, model, n, 50)
    cost = score_cost(store, model, rounds)
    print(f"{name:10s} append one per commit: {one:8.0f} events/s   batches of 50: "
          f"{fifty:8.0f} events/s")
    print(f"{name:10s} /score (1 course) median {cost['score_ms']:.2f} ms without audit, "
          f"{cost['score_audited_ms']:.2f} ms with audit: +{cost['audit_adds_ms']:.2f} ms")


def _print_measured(got: dict) -> None:
    print(f"audit cost per event of the batch job ({got.get('events_per_round', 0):,} events "
          f"a round, {got.get('chunks', 0)} chunk(s)):")
    for backend in BACKENDS:
        fig = got.get(backend, {})
        if "skipped" in fig:
            print(f"  {backend:10s} not measured: {fig['skipped']}")
            continue
        rounds = ", ".join(f"{r:.0f}" for r in fig["rounds"])
        print(f"  {backend:10s} {fig['us_per_event']:7.1f} us/event median "
              f"(min {fig['min']:.1f}, max {fig['max']:.1f}; rounds {rounds})")


def _each_backend(pg_url: str, fn: Callable[[str, AuditStore], None]) -> None:
    for backend in BACKENDS:
        if backend == "postgres" and pg_url == "skip":
            continue
        with tempfile.TemporaryDirectory() as tmp, _store(backend, pg_url, Path(tmp)) as store:
            fn(backend, store)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_store", description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="events of the append figures")
    parser.add_argument("--rounds", type=int, default=300, help="/score rounds")
    parser.add_argument("--measure-rounds", type=int, default=5, help="rounds of `measure`")
    parser.add_argument("--model", type=Path, default=None,
                        help="exported model folder (default: the champion of MODELS_DIR)")
    parser.add_argument("--data", type=Path, default=Path("var/bench/data/n10000"),
                        help="record folder for `measure` ('skip' to leave it out)")
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args(argv)
    from config import get_settings
    from riskmodel.artifact import champion_path

    model_dir = args.model or champion_path(get_settings().models_dir)
    if model_dir is None:
        parser.error("no champion in MODELS_DIR: pass --model")
    if str(args.data) != "skip":
        _print_measured(measure(args.pg_url, args.measure_rounds, model_dir=model_dir,
                                data_dir=args.data))
    model = RiskModel.load(model_dir)
    _each_backend(args.pg_url, lambda name, store: _report(name, store, model, args.n,
                                                           args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
