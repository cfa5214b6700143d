"""The synthetic cohort follows the record contract and has the documented statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from features.fields import HORIZON_DAYS, RECORD_FIELDS
from synthetic.__main__ import main
from synthetic.cohort import Cohort, generate

N, SEED = 20000, 7
DTYPES = {"str": "str", "category": "str", "date": "str", "int": "Int64", "float": "float64",
          "bool": "boolean"}
ERROR_KINDS = {
    ("intake", "impossible_value"), ("intake", "unparseable_date"), ("intake", "invalid_code"),
    ("intake", "duplicate_course_id"), ("sessions", "impossible_value"),
    ("sessions", "unparseable_date"), ("sessions", "session_before_intake"),
    ("sessions", "unknown_course"), ("outcomes", "course_end_mismatch"),
    ("outcomes", "unparseable_date"),
}


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return generate(N, SEED)


def _bad_courses(c: Cohort) -> set[str]:
    return set(c.injected_errors["course_id"])


def _clean(c: Cohort, record: str) -> pd.DataFrame:
    """Rows of courses without any injected error (and of no duplicated course)."""
    df = getattr(c, record)
    return df[~df["course_id"].isin(_bad_courses(c))]


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")


@pytest.mark.parametrize("record", ["intake", "sessions", "outcomes"])
def test_columns_dtypes_ranges_and_codes_follow_the_contract(cohort, record):
    df = getattr(cohort, record)
    fields = RECORD_FIELDS[record]
    assert list(df.columns) == [f.name for f in fields]
    errs = cohort.injected_errors
    bad_rows = set(errs.loc[errs["file"].eq(record), "row"] - 1)
    clean = df[~np.isin(np.arange(len(df)), list(bad_rows))]
    assert len(clean) > 0.98 * len(df)
    for f in fields:
        col = clean[f.name]
        assert str(df[f.name].dtype) == DTYPES[f.kind], f.name
        if f.required:
            assert col.notna().all(), f.name
        present = col.dropna()
        if f.kind == "date":
            assert _dates(present).notna().all(), f.name
        if f.codes:
            assert present.isin(f.codes).all(), f.name
        if f.ge is not None:
            assert (present >= f.ge).all(), f.name
        if f.le is not None:
            assert (present <= f.le).all(), f.name


def test_every_listed_bad_row_breaks_the_contract(cohort):
    errs = cohort.injected_errors
    assert set(zip(errs["file"], errs["kind"], strict=True)) == ERROR_KINDS
    for (record, kind), group in errs.groupby(["file", "kind"]):
        df = getattr(cohort, record)
        rows = df.iloc[group["row"].to_numpy() - 1]
        assert (rows["course_id"].to_numpy() == group["course_id"].to_numpy()).all()
        if kind == "unparseable_date":
            cols = group["column"].to_numpy()
            values = [rows.iloc[i][col] for i, col in enumerate(cols)]
            assert _dates(pd.Series(values)).isna().all()
        elif kind == "duplicate_course_id":
            assert df["course_id"].isin(group["course_id"]).sum() == 2 * len(group)
        elif kind == "unknown_course":
            assert not group["course_id"].isin(cohort.intake["course_id"]).any()
    # About 1% of intake and outcome rows, well under 1% of session rows.
    share = errs["file"].value_counts() / pd.Series(
        {r: len(getattr(cohort, r)) for r in ("intake", "sessions", "outcomes")})
    assert share.between(0.002, 0.015).all(), share


def test_same_seed_same_cohort_other_seed_differs():
    a, b, c = generate(3000, 5), generate(3000, 5), generate(3000, 6)
    for name in ("intake", "sessions", "outcomes", "oracle", "injected_errors"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert not a.oracle["true_probability_180d"].equals(c.oracle["true_probability_180d"])


def test_true_relapse_rate_and_oracle_auroc(cohort):
    o = cohort.oracle
    assert len(o) == N and o["course_id"].is_unique
    assert 0.50 <= o["true_relapsed_180d"].mean() <= 0.65
    auroc = roc_auc_score(o["true_relapsed_180d"], o["true_probability_180d"])
    assert 0.72 <= auroc <= 0.78
    # The relapse day agrees with the 180-day outcome.
    assert ((o["true_relapse_day"] <= HORIZON_DAYS) == o["true_relapsed_180d"]).all()


def test_linear_model_on_intake_stays_below_the_oracle(cohort):
    intake = _clean(cohort, "intake").drop_duplicates("course_id", keep=False)
    numeric = [f.name for f in RECORD_FIELDS["intake"] if f.kind in ("int", "float", "bool")]
    x = intake[numeric].astype("float64").to_numpy()
    truth = cohort.oracle.set_index("course_id").loc[intake["course_id"]]
    y, p = truth["true_relapsed_180d"].to_numpy(), truth["true_probability_180d"].to_numpy()
    train = np.arange(len(y)) % 2 == 0
    lr = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=1000))
    lr.fit(x[train], y[train])
    lr_auc = roc_auc_score(y[~train], lr.predict_proba(x[~train])[:, 1])
    assert lr_auc < roc_auc_score(y[~train], p[~train]) - 0.02


def test_censoring_rate_and_dependence_on_covariates(cohort):
    o = cohort.oracle.set_index("course_id")
    assert 0.20 <= o["censored"].mean() <= 0.30
    intake = _clean(cohort, "intake").drop_duplicates("course_id", keep=False).set_index(
        "course_id")
    censored = o.loc[intake.index, "censored"]
    young = intake["age_years"] < 30
    unemployed = intake["employment"].eq("unemployed")
    assert censored[young].mean() - censored[~young].mean() > 0.04
    assert censored[unemployed].mean() - censored[~unemployed & intake["employment"].notna()
                                                  ].mean() > 0.04
    # Censored courses are the ones with an empty label, and only those.
    out = _clean(cohort, "outcomes").set_index("course_id")
    assert (out["relapsed_180d"].isna() == o.loc[out.index, "censored"]).all()


def test_outcomes_follow_the_design(cohort):
    out = _clean(cohort, "outcomes")
    end, follow, relapse = (_dates(out[c]) for c in ("course_end_date", "followup_end_date",
                                                     "relapse_date"))
    assert (follow >= end).all()
    seen = relapse.notna()
    assert ((relapse[seen] > end[seen]) & (relapse[seen] <= follow[seen])).all()
    horizon = end + pd.Timedelta(days=HORIZON_DAYS)
    label = out["relapsed_180d"]
    assert label[seen & (relapse <= horizon)].eq(True).all()
    assert label[~seen & (follow >= horizon)].eq(False).all()
    assert label[~seen & (follow < horizon)].isna().all()
    # Those not lost are followed about a year (planned 365 +/- 14 days).
    days = (follow - end).dt.days
    assert days.max() <= 380 and 0.35 <= (days >= 350).mean() <= 0.8
    # Observed relapses are the true ones when seen.
    truth = cohort.oracle.set_index("course_id").loc[out["course_id"]]
    seen_days = (relapse - end).dt.days[seen].to_numpy()
    assert (seen_days == truth["true_relapse_day"].to_numpy()[seen.to_numpy()]).all()


def test_course_end_is_last_scheduled_session_for_clean_courses(cohort):
    sessions = _clean(cohort, "sessions")
    intake = _clean(cohort, "intake").drop_duplicates("course_id", keep=False)
    out = _clean(cohort, "outcomes").set_index("course_id")
    day = _dates(sessions["session_date"])
    last = day.groupby(sessions["course_id"]).max()
    common = last.index.intersection(out.index)
    assert len(common) > 0.9 * N
    assert (last.loc[common] == _dates(out.loc[common, "course_end_date"])).all()
    first = day.groupby(sessions["course_id"]).min()
    start = _dates(intake.set_index("course_id")["intake_date"])
    ok = first.index.intersection(start.index)
    assert (first.loc[ok] >= start.loc[ok]).all()
    span = (last.loc[ok] - start.loc[ok]).dt.days
    assert span.between(3, 60).all() and 25 <= span.median() <= 45  # ~3-6 weeks
    numbers = sessions.groupby("course_id")["session_number"]
    assert (numbers.min() == 1).all() and (numbers.max() == numbers.size()).all()


def test_session_fields_empty_where_not_measured(cohort):
    s = _clean(cohort, "sessions")
    attended = s["attended"].astype(bool)
    infusion = s["session_type"].eq("infusion")
    for col in ("ketamine_dose_mg_per_kg", "infusion_minutes", "cadss_total", "meq30_mean",
                "peak_systolic_bp_mmhg"):
        assert s.loc[~(attended & infusion), col].isna().all(), col
    for col in ("craving_vas", "adverse_event", "drinking_days_since_last_session"):
        assert s.loc[~attended, col].isna().all(), col
        assert s.loc[attended, col].notna().mean() > 0.9, col
    assert 0.80 <= attended[infusion].mean() <= 0.97
    assert 0.65 <= attended[~infusion].mean() <= 0.90
    cadss = s.loc[attended & infusion, "cadss_total"].dropna()
    assert 5 <= cadss.mean() <= 11 and 6 <= cadss.std() <= 12 and (cadss == 0).mean() > 0.15


def test_population_matches_published_figures(cohort):
    i = _clean(cohort, "intake").drop_duplicates("course_id", keep=False)
    assert 42 <= i["age_years"].mean() <= 46 and i["age_years"].between(18, 80).all()
    assert 0.30 <= i["sex"].eq("female").mean() <= 0.40
    assert 0.003 <= i["sex"].eq("other").mean() <= 0.02
    assert 40 <= i["heavy_drinking_days_90d"].mean() <= 50
    assert 0.33 <= i["smoker"].mean() <= 0.43
    assert 0.55 <= i["employment"].eq("employed").sum() / i["employment"].notna().sum() <= 0.72
    assert 0.22 <= i["prior_ketamine_use"].mean() <= 0.35
    for col, rate in (("ggt_u_per_l", 0.15), ("bmi", 0.05), ("pacs_total", 0.08),
                      ("employment", 0.03), ("race_ethnicity", 0.10)):
        assert abs(i[col].isna().mean() - rate) < 0.03, col
    assert i["therapy_type"].isin(["mbrp", "met", "cbt", "education", "none"]).all()
    mix = pd.crosstab(i["site"], i["therapy_type"], normalize="index")
    assert mix["mbrp"].max() - mix["mbrp"].min() > 0.2  # therapy mix varies by site
    assert i["site"].nunique() >= 5 and i["race_ethnicity"].nunique() >= 5


def test_some_patients_have_several_courses_in_sequence(cohort):
    i = _clean(cohort, "intake").drop_duplicates("course_id", keep=False)
    per_patient = i.groupby("patient_id").size()
    assert 0.05 <= (per_patient >= 2).mean() <= 0.15 and per_patient.max() <= 3
    out = _clean(cohort, "outcomes").set_index("course_id")
    seq = i.assign(start=_dates(i["intake_date"])).sort_values(["patient_id", "start"])
    seq = seq[seq["course_id"].isin(out.index)]
    follow = _dates(out.loc[seq["course_id"], "followup_end_date"]).to_numpy()
    same = seq["patient_id"].to_numpy()[1:] == seq["patient_id"].to_numpy()[:-1]
    assert same.sum() > 100
    assert (seq["start"].to_numpy()[1:][same] > follow[:-1][same]).all()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_cli_writes_the_files_and_the_oracle(tmp_path, fmt, capsys):
    assert main(["--n", "600", "--seed", "3", "--out", str(tmp_path), "--format", fmt]) == 0
    for record in ("intake", "sessions", "outcomes"):
        assert (tmp_path / f"{record}.{fmt}").exists()
    oracle = pd.read_csv(tmp_path / "oracle" / "oracle.csv")
    assert list(oracle.columns) == ["course_id", "true_probability_180d", "true_relapsed_180d",
                                    "true_relapse_day", "censored", "disparity_group"]
    assert (tmp_path / "oracle" / "injected_errors.csv").exists()
    assert (tmp_path / "oracle" / "generator.json").exists()
    assert "oracle AUROC" in capsys.readouterr().out
    if fmt == "csv":
        text = (tmp_path / "outcomes.csv").read_text()
        assert ",true" in text and "nan" not in text.lower()
