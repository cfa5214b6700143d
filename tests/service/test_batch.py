"""`make score-batch`: chunked scoring equals whole-file scoring, and every prediction is audited."""

from __future__ import annotations

import hashlib
import sqlite3

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from audit import JOB_CHAIN, AuditStore, init_installation
from audit.paths import AuditPaths
from config import get_settings
from features.builder import build_features, course_batch_from_frames
from features.records import RawRecords, read_records
from features.spec import FEATURE_NAMES
from features.validation import validate_records
from jobs.batch_scoring import top_factor_column
from jobs.score_batch import main as batch_main
from jobs.score_batch import run_batch
from riskmodel.predictor import RiskModel

N_COURSES = 2500
CHUNK = 900  # three chunks, the last one partial


@pytest.fixture(scope="module")
def subset_dir(cohort_dir, tmp_path_factory):
    """The cohort's first courses (bad rows included) plus sessions of courses not in intake."""
    out = tmp_path_factory.mktemp("batch_input")
    intake = pd.read_csv(cohort_dir / "intake.csv", dtype="str", keep_default_na=False)
    sessions = pd.read_csv(cohort_dir / "sessions.csv", dtype="str", keep_default_na=False)
    intake = intake.iloc[:N_COURSES]
    mine = sessions["course_id"].isin(intake["course_id"])
    orphans = sessions[~mine].iloc[:7]
    # shuffled: sessions of one course need not be adjacent
    both = pd.concat([sessions[mine], orphans]).sample(frac=1.0, random_state=3)
    intake.to_csv(out / "intake.csv", index=False)
    both.to_csv(out / "sessions.csv", index=False)
    return out


@pytest.fixture(scope="module")
def model(champion_dir) -> RiskModel:
    return RiskModel.load(champion_dir)


@pytest.fixture(scope="module")
def job(model, subset_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("batch_job")
    paths = AuditPaths.under(root)
    init_installation(f"sqlite:///{root / 'audit.db'}", paths)
    store = AuditStore(f"sqlite:///{root / 'audit.db'}", paths=paths)
    out = root / "scores.parquet"
    result = run_batch(model, subset_dir, out, store=store, chunk_courses=CHUNK, progress=False,
                       quarantine_dir=root / "quarantine")
    yield {"result": result, "store": store, "out": out, "root": root, "paths": paths}
    store.close()


def _whole_file(subset_dir):
    raw = read_records(subset_dir, require_outcomes=False)
    return validate_records(RawRecords(raw.intake, raw.sessions, None))


def test_chunked_scores_equal_whole_file_scores(job, model, subset_dir):
    validated = _whole_file(subset_dir)
    features = build_features(course_batch_from_frames(validated.intake, validated.sessions))
    expected = pd.Series(model.explain(features.matrix).probability, index=features.course_ids)
    scores = pq.read_table(job["out"]).to_pandas().set_index("course_id")
    assert len(scores) == len(expected) == job["result"].courses_scored
    assert scores.index.is_unique
    # The SHAP engine sums in row blocks whose layout follows the batch size, so the last
    # float64 bits may differ between chunk sizes (seen: 1.4e-7); anything larger is a bug.
    np.testing.assert_allclose(scores.loc[expected.index, "relapse_probability_180d"],
                               expected.to_numpy(), rtol=0, atol=1e-6)
    # and the explained probability is the model's prediction (float32 trees vs float64 SHAP)
    np.testing.assert_allclose(expected.to_numpy(), model.predict_proba(features.matrix),
                               atol=1e-5)
    bands = model.band(expected.to_numpy())
    assert scores.loc[expected.index, "risk_band"].tolist() == bands


def test_quarantine_is_reported_as_whole_file_validation_reports_it(job, subset_dir):
    validated = _whole_file(subset_dir)
    expected = {r: len(f) for r, f in validated.quarantine.items()}
    assert expected["sessions"] >= 7  # the orphans at least
    assert job["result"].rows_quarantined == expected
    assert job["result"].reasons["sessions: course_id: not in intake"] >= 7
    written = pd.read_csv(job["root"] / "quarantine" / job["result"].job_id / "sessions.csv")
    assert len(written) == expected["sessions"]


def test_top_factors_are_the_served_ones(model):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(50, len(FEATURE_NAMES)))
    values[rng.random(values.shape) < 0.1] = np.nan
    contributions = rng.normal(size=values.shape)
    contributions[:, 5] = 0.0  # zero contributions are never listed
    contributions[3] = 0.0
    column = top_factor_column(values, contributions).to_pylist()
    for i in range(len(values)):
        served = model.top_factors(values[i], contributions[i])
        assert [f["feature"] for f in column[i]] == [f.feature for f in served]
        assert [f["shap_log_odds"] for f in column[i]] == [f.shap_log_odds for f in served]
        assert [f["direction"] for f in column[i]] == [f.direction for f in served]
        assert [f["value"] for f in column[i]] == [f.value for f in served]
    assert column[3] == []


def test_every_prediction_is_audited_in_one_chain_with_one_job_event(job, subset_dir):
    store, result = job["store"], job["result"]
    assert store.head()[0] == result.events_written == result.courses_scored
    assert (result.first_seq, result.last_seq) == (1, result.courses_scored)
    report = store.verify()
    assert report.ok, str(report)
    (event,) = store.list_jobs()
    digest = hashlib.sha256()
    for name in ("intake.csv", "sessions.csv"):
        digest.update(name.encode())
        digest.update((subset_dir / name).read_bytes())
    details = event.details
    assert event.job_id == result.job_id
    assert details["input_sha256"] == digest.hexdigest()
    assert details["input_rows"] == {"intake": N_COURSES,
                                     "sessions": len(pd.read_csv(subset_dir / "sessions.csv"))}
    assert details["status"] == "completed"
    assert details["events_written"] == result.courses_scored
    summaries = store.list_events(limit=5)
    assert {s.request_id for s in summaries} == {result.job_id}
    full = store.get_event(summaries[0].event_id)
    assert sum(full.shap_values.values()) + full.shap_base == pytest.approx(
        np.log(full.probability / (1 - full.probability)), abs=1e-9)
    assert report.chains[JOB_CHAIN].ok and report.chains[JOB_CHAIN].rows_verified == 1


def test_an_altered_job_event_is_detected(job, monkeypatch):
    from audit.__main__ import main as audit_cli

    monkeypatch.setenv("VAR_DIR", str(job["root"]))  # the CLI finds keys and checkpoints there
    db = job["root"] / "audit.db"
    cli = ["verify", "--url", f"sqlite:///{db}"]
    assert audit_cli(cli) == 0
    con = sqlite3.connect(db)
    try:
        with pytest.raises(sqlite3.DatabaseError):  # append-only trigger
            con.execute("UPDATE audit_jobs SET details = '{}'")
        con.execute("DROP TRIGGER audit_jobs_no_update")
        con.execute("UPDATE audit_jobs SET details = replace(details, 'completed', 'x')")
        con.commit()
    finally:
        con.close()
    check = job["store"].verify().chains[JOB_CHAIN]
    assert not check.ok and check.broken_seq == 1 and "altered" in (check.reason or "")
    assert audit_cli(cli) == 1  # make audit-verify covers the job chain too


def test_cli_scores_with_the_champion(champion_dir, project_settings, subset_dir, tmp_path,
                                      monkeypatch, capsys):
    monkeypatch.setenv("MODELS_DIR", str(project_settings.models_dir))
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    init_installation(f"sqlite:///{tmp_path / 'var' / 'audit.db'}",
                      AuditPaths.under(tmp_path / "var"))  # a job never makes its own store
    get_settings.cache_clear()
    try:
        out = tmp_path / "cli.parquet"
        assert batch_main(["--input", str(subset_dir), "--output", str(out), "--chunk", "5000",
                           "--no-progress"]) == 0
    finally:
        get_settings.cache_clear()
    printed = capsys.readouterr().out
    assert "audit events" in printed and "C0" not in printed  # counts, never identifiers
    table = pq.read_table(out)
    assert table.num_rows > 0.9 * N_COURSES
    assert set(table.column("risk_band").to_pylist()) <= {"low", "moderate", "high"}


def test_dask_workers_score_the_same_rows_in_the_same_order(model, subset_dir, job, tmp_path):
    from distributed import Client, LocalCluster

    from jobs.batch_dask import dask_scorer

    out = tmp_path / "dask.parquet"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        result = run_batch(model, subset_dir, out, store=None, chunk_courses=CHUNK,
                           progress=False, scorer=dask_scorer(model.artifact.path, client))
    assert result.courses_scored == job["result"].courses_scored
    pd.testing.assert_frame_equal(pq.read_table(out).to_pandas(),
                                  pq.read_table(job["out"]).to_pandas())


def test_batch_output_quarantine_and_audit_db_are_private(job, subset_dir, tmp_path):
    """Raw patient ids and predictions: 0600 files in 0700 folders, whatever the umask."""
    def mode(path):
        return path.stat().st_mode & 0o777

    quarantine = job["root"] / "quarantine" / job["result"].job_id
    assert mode(job["out"]) == 0o600
    assert mode(job["root"] / "audit.db") == 0o600
    assert {mode(p) for p in quarantine.glob("*.csv")} == {0o600}
    assert mode(quarantine) == 0o700
    written = _whole_file(subset_dir).write_quarantine(tmp_path / "validate")
    assert written and {mode(p) for p in written} == {0o600}
    assert mode(tmp_path / "validate") == 0o700


def test_served_number_columns_mean_what_score_serves(job, model):
    """Calibration interval, band facts, risk curve and the synthetic-data warning: the
    same numbers /score puts in its answer (serving/scoring.py), column by column."""
    table = pq.read_table(job["out"])
    assert "not for patient care" in table.schema.field("warning").metadata[b"meaning"].decode()
    df = table.to_pandas()
    p = df["relapse_probability_180d"].to_numpy()
    low, high = model.served.calibration.bounds(p)
    np.testing.assert_allclose(df["calibration_interval_low"], low)
    np.testing.assert_allclose(df["calibration_interval_high"], high)
    risks = model.served.curve.risks(p)
    np.testing.assert_allclose(df[["relapse_risk_30d", "relapse_risk_90d"]], risks[:, :2])
    assert (df["relapse_risk_30d"] <= df["relapse_risk_90d"]).all()
    assert (df["relapse_risk_90d"] <= df["relapse_probability_180d"] + 1e-9).all()
    for band, rows in df.groupby("risk_band"):
        facts = model.served.bands[band]
        assert (rows["band_observed_relapse_rate"] == facts.observed_rate).all()
        assert (rows["band_observed_low"] == facts.low).all()
    assert (df["warning"] == model.served.care_warning).all()
    assert "not for patient care" in df["warning"].iloc[0]
