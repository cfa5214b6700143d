"""The batch job's audit writer thread: chunks written in order while the next is scored, and
a failed chunk fails the job with nothing after it written."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jobs.batch_audit as batch_audit
from audit import JOB_CHAIN, AuditStore, AuditWriteError, init_installation
from audit.paths import AuditPaths
from jobs.batch_audit import ChunkAuditor
from jobs.batch_reader import ChunkedRecords
from jobs.batch_scoring import score_chunk
from jobs.score_batch import run_batch
from riskmodel.predictor import Explained, RiskModel

N_COURSES = 600
CHUNK = 250  # three chunks


@pytest.fixture(scope="module")
def small_dir(cohort_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("batch_thread_input")
    intake = pd.read_csv(cohort_dir / "intake.csv", dtype="str", keep_default_na=False)
    sessions = pd.read_csv(cohort_dir / "sessions.csv", dtype="str", keep_default_na=False)
    intake = intake.iloc[:N_COURSES]
    intake.to_csv(out / "intake.csv", index=False)
    sessions[sessions["course_id"].isin(intake["course_id"])].to_csv(out / "sessions.csv",
                                                                       index=False)
    return out


@pytest.fixture
def store(tmp_path):
    paths = AuditPaths.under(tmp_path)
    init_installation(f"sqlite:///{tmp_path / 'audit.db'}", paths)
    with AuditStore(f"sqlite:///{tmp_path / 'audit.db'}", paths=paths) as s:
        yield s


@pytest.fixture(scope="module")
def model(champion_dir) -> RiskModel:
    return RiskModel.load(champion_dir)


def test_the_next_chunk_is_handed_over_while_the_previous_is_written(store, model, small_dir,
                                                                      monkeypatch):
    chunks = [score_chunk(model, raw) for raw in ChunkedRecords(small_dir, CHUNK)]
    release, writing = threading.Event(), threading.Event()
    original = batch_audit.audit_chunk

    def held(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        writing.set()
        assert release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(batch_audit, "audit_chunk", held)
    auditor = ChunkAuditor(store, model, job_id="a" * 32, caller_sub="t", caller_role="batch")
    auditor.submit(chunks[0], 1.0)
    assert writing.wait(10)
    auditor.submit(chunks[1], 1.0)  # queued: returns while chunk 0 is still being written
    assert store.head()[0] == 0
    release.set()
    auditor.submit(chunks[2], 1.0)
    auditor.close()
    n = sum(len(c) for c in chunks)
    assert (auditor.first_seq, auditor.last_seq, auditor.events_written) == (1, n, n)
    patients = [e.patient_ref for e in reversed(store.list_events(limit=1000))]
    assert patients == store.surrogates.patients([p for c in chunks for p in c.patient_ids])
    assert store.verify().ok


def test_a_failed_chunk_fails_the_job_and_nothing_after_it_is_written(store, model, small_dir,
                                                                      tmp_path, monkeypatch):
    original, calls = batch_audit.audit_chunk, []

    def second_fails(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == 2:
            raise AuditWriteError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(batch_audit, "audit_chunk", second_fails)
    out = tmp_path / "scores.parquet"
    with pytest.raises(AuditWriteError):
        run_batch(model, small_dir, out, store=store, chunk_courses=CHUNK, progress=False)
    assert not out.exists() and not out.with_name(out.name + ".partial").exists()
    (job,) = store.list_jobs()
    first = job.details["events_written"]
    assert job.details["status"] == "failed" and 0 < first < N_COURSES
    assert (job.details["prediction_seq_first"], job.details["prediction_seq_last"]) == (1, first)
    assert store.head()[0] == first and len(calls) == 2  # the third chunk was never written
    report = store.verify()
    assert report.ok and report.chains[JOB_CHAIN].rows_verified == 1


def test_chunks_of_quarantined_rows_only_leave_the_seq_range_alone(store, model, small_dir):
    """A chunk with no scorable course (all quarantined) has no place in the chain: the
    job's first and last seq are those of the chunks that wrote rows."""
    chunks = [score_chunk(model, raw) for raw in ChunkedRecords(small_dir, CHUNK)]
    first = chunks[0]
    none = np.zeros(0, dtype=np.intp)
    empty = replace(first, features=replace(first.features, course_ids=[],
                                            matrix=first.features.matrix[none],
                                            course_end_day=first.features.course_end_day[none]),
                    patient_ids=[], bands=first.bands[none],
                    explained=Explained(*(np.asarray(v)[none] for v in (
                        first.explained.probability, first.explained.log_odds,
                        first.explained.contributions, first.explained.base_log_odds))))
    auditor = ChunkAuditor(store, model, job_id="b" * 32, caller_sub="t", caller_role="batch")
    for chunk in (empty, chunks[0], empty):
        auditor.submit(chunk, 1.0)
    auditor.close()
    n = len(chunks[0])
    assert (auditor.first_seq, auditor.last_seq, auditor.events_written) == (1, n, n)
