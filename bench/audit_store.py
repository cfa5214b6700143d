"""Audit write throughput (SQLite, PostgreSQL) and what the audit adds to one /score call.

    python -m bench.audit_store [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Runs in throw-away stores (a temp folder, a temp PostgreSQL schema); the
/score cost is measured in-process on the serving code path, with and
without the audit write, in the same run and interleaved.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from audit import AuditStore, init_installation
from audit.paths import AuditPaths
from devtools.example_course import example_request
from riskmodel.artifact import champion_path
from riskmodel.predictor import RiskModel
from serving.recording import prediction_events
from serving.schemas import ScoreRequest
from serving.scoring import score_courses


def _events(store: AuditStore, model: RiskModel, n: int) -> list:
    courses = list(ScoreRequest.model_validate(example_request()).courses) * n
    scored = score_courses(model, courses)
    return prediction_events(store, model, courses, scored, request_id="bench",
                             caller_sub="bench", caller_role="clinician", endpoint="/score",
                             latency_ms=1.0)


def throughput(store: AuditStore, model: RiskModel, n: int, batch: int) -> float:
    events = _events(store, model, n)
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        store.append_many(events[i:i + batch])
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
        store.append_many(prediction_events(store, model, courses, scored, request_id="b",
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_store", description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    from config import get_settings

    model = RiskModel.load(champion_path(get_settings().models_dir))
    with tempfile.TemporaryDirectory() as tmp:
        paths = AuditPaths.under(Path(tmp) / "sqlite")
        init_installation(f"sqlite:///{Path(tmp) / 'audit.db'}", paths)
        with AuditStore(f"sqlite:///{Path(tmp) / 'audit.db'}", paths=paths) as store:
            _report("sqlite", store, model, args.n, args.rounds)
        if args.pg_url != "skip":
            schema = f"audit_bench_{secrets.token_hex(4)}"
            admin = create_engine(args.pg_url)
            with admin.begin() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            url = make_url(args.pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
            try:
                pg = url.render_as_string(hide_password=False)
                pg_paths = AuditPaths.under(Path(tmp) / "postgresql")
                init_installation(pg, pg_paths)
                with AuditStore(pg, paths=pg_paths) as store:
                    _report("postgresql", store, model, args.n, args.rounds)
            finally:
                with admin.begin() as conn:
                    conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
                admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
