"""`make score-batch INPUT=dir OUTPUT=file.parquet`: score a record folder with the champion.

Streams the folder in chunks of whole courses (jobs/batch_reader.py);
each chunk is validated (bad rows quarantined with reasons), featured with
features/ and explained with the served RiskModel, its rows are appended to
the Parquet output, and every prediction is written to the audit store in
one transaction per chunk (one prediction chain), on a writer thread while the next
chunk is scored (jobs/batch_audit.py). One event in the store's
batch-job chain (migration 0003) names the input's sha256, its row counts and the
prediction-chain range. Logs carry counts and reasons, never values.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from tqdm import tqdm

from audit import AuditStore, JobEvent
from config import get_settings
from config.files import open_private, private_dir, private_file
from jobs.batch_audit import ChunkAuditor
from jobs.batch_reader import ChunkedRecords
from jobs.batch_scoring import OUTPUT_SCHEMA, ScoredChunk, output_table, score_chunk
from riskmodel.champion import load_champion
from riskmodel.predictor import RiskModel

log = logging.getLogger("relapse_risk.batch")
CALLER_ROLE = "batch"
DEFAULT_CHUNK = 20_000


@dataclass
class BatchResult:
    job_id: str
    input_sha256: str
    input_rows: dict[str, int]
    courses_scored: int = 0
    rows_quarantined: dict[str, int] = field(default_factory=dict)
    events_written: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    output: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)  # "record: reason" -> rows

    def job_details(self, model: RiskModel, status: str) -> dict:
        a = model.artifact
        return {"status": status, "input_sha256": self.input_sha256,
                "input_rows": self.input_rows, "courses_scored": self.courses_scored,
                "rows_quarantined": self.rows_quarantined, "events_written": self.events_written,
                "prediction_seq_first": self.first_seq, "prediction_seq_last": self.last_seq,
                "model_name": a.name, "model_version": a.version, "model_sha256": a.sha256,
                "output_file": Path(self.output).name}


def _append_quarantine(quarantine: dict[str, pd.DataFrame], out_dir: Path) -> None:
    """Quarantined raw rows with their reasons, appended per chunk (as `make validate` does)."""
    private_dir(out_dir)
    for record, frame in quarantine.items():
        if len(frame):
            path = out_dir / f"{record}.csv"
            header = not path.exists()
            with open_private(path, "a") as fh:  # raw patient ids: 0600
                frame.to_csv(fh, header=header)


class _Timer:
    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds

    def add(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - since
        return now


Scorer = Callable[[RiskModel, ChunkedRecords], Iterator[tuple[int, ScoredChunk]]]


def _score_here(model: RiskModel, records: ChunkedRecords) -> Iterator[tuple[int, ScoredChunk]]:
    for k in range(len(records)):
        yield k, score_chunk(model, records.chunk(k))


def run_batch(model: RiskModel, input_dir: Path, output: Path, *, store: AuditStore | None,
              chunk_courses: int = DEFAULT_CHUNK, progress: bool = True,
              quarantine_dir: Path | None = None, caller_sub: str | None = None,
              scorer: Scorer | None = None) -> BatchResult:
    """Score every course in `input_dir`; `store=None` skips auditing (benchmarks only).

    `scorer` yields (chunk index, scored chunk) in chunk order; the default scores here,
    jobs/batch_dask.py on Dask workers. Output and audit are written here, in order.
    """
    t0 = time.perf_counter()
    records = ChunkedRecords(input_dir, chunk_courses)
    result = BatchResult(uuid.uuid4().hex, records.files.sha256, dict(records.files.rows),
                         output=str(output))
    timer = _Timer(result.seconds)
    t = timer.add("read", t0)
    caller_sub = caller_sub or f"batch:{getpass.getuser()}"
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = private_file(output.with_name(output.name + ".partial"))  # 0600, kept by replace
    quarantined: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    status = "failed"
    auditor = None if store is None else ChunkAuditor(
        store, model, job_id=result.job_id, caller_sub=caller_sub, caller_role=CALLER_ROLE)
    try:
        with pq.ParquetWriter(partial, OUTPUT_SCHEMA) as writer, tqdm(
                total=records.n_courses, unit="course", disable=not progress,
                file=sys.stderr, desc="scoring") as bar:
            t = time.perf_counter()
            for k, scored in (scorer or _score_here)(model, records):
                t_start = t
                t_scored = timer.add("score", t)
                writer.write_table(output_table(scored, model))
                t = timer.add("write", t_scored)
                quarantined.update(scored.quarantined)
                for r in scored.reasons.itertuples(index=False):
                    reasons[f"{r.record}: {r.reason}"] += int(r.rows)
                if quarantine_dir is not None:
                    _append_quarantine(scored.quarantine, quarantine_dir / result.job_id)
                if auditor is not None and len(scored):
                    # written on the auditor's thread while the next chunk is scored
                    auditor.submit(scored, (t_scored - t_start) * 1000 / len(scored))
                    timer.add("audit_wait", t)
                result.courses_scored += len(scored)
                bar.update(records.courses_in(k))
                t = time.perf_counter()
            if auditor is not None:
                t = time.perf_counter()
                auditor.close()  # every prediction audited before the output is published
                timer.add("audit_wait", t)
        partial.replace(output)
        status = "completed"
    finally:
        result.rows_quarantined = dict(quarantined)
        result.reasons = dict(reasons)
        if auditor is not None:
            auditor.join()
            result.first_seq, result.last_seq = auditor.first_seq, auditor.last_seq
            result.events_written = auditor.events_written
        if store is not None:
            # A failed job still leaves a record of what it read and how far it got.
            store.record_job(JobEvent(job_id=result.job_id, caller_sub=caller_sub,
                                      caller_role=CALLER_ROLE,
                                      details=result.job_details(model, status)))
            store.checkpoint()  # signed now, not a background moment later: the job ends here
        partial.unlink(missing_ok=True)
        result.seconds["total"] = time.perf_counter() - t0
    return result


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, required=True, help="folder with intake + sessions")
    ap.add_argument("--output", type=Path, required=True, help="Parquet file to write")
    ap.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help="courses per chunk")
    ap.add_argument("--engine", choices=("pandas", "dask"), default="pandas")
    ap.add_argument("--quarantine-dir", type=Path,
                    default=settings.var_dir / "quarantine" / "batch")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    model = load_champion(settings.models_dir)
    with AuditStore(settings.audit_url) as store:
        scorer = None
        if args.engine == "dask":
            from jobs.batch_dask import dask_scorer

            scorer = dask_scorer(model.artifact.path)
        result = run_batch(model, args.input, args.output, store=store, chunk_courses=args.chunk,
                           progress=not args.no_progress, quarantine_dir=args.quarantine_dir,
                           scorer=scorer)
    _report(result)
    return 0


def _report(result: BatchResult) -> None:
    total = result.seconds.get("total", 0.0)
    print(f"job {result.job_id}: input sha256 {result.input_sha256[:16]}... rows "
          f"{result.input_rows}; scored {result.courses_scored} courses "
          f"({result.courses_scored / max(total, 1e-9):,.0f}/s); quarantined "
          f"{result.rows_quarantined}; audit events {result.events_written} "
          f"(seq {result.first_seq}..{result.last_seq}); output {result.output}")
    for reason, rows in sorted(result.reasons.items(), key=lambda kv: -kv[1]):
        print(f"  quarantine  {rows:>8}  {reason}")
    print("  seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in asdict(result)["seconds"].items()))


if __name__ == "__main__":
    sys.exit(main())
