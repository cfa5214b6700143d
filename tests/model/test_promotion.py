"""Escalated candidates are promoted only by a person, with who, when and why recorded in the
promotion log, on the MLflow version and in the audit trail; `make rebaseline` names a new
reference; records too thin to train stop with counts, not a traceback."""

from __future__ import annotations

import json
import shutil

import pytest

from audit.store import AuditStore
from riskmodel.promotion_log import append_promotion, read_promotions
from tests.audit_setup import installed
from training.promote import PromotionError, promote, rebaseline
from training.references import reference_version


@pytest.fixture()
def escalated(tmp_path, trained, champion_dir, project_settings, monkeypatch):
    """A copy of the trained version in fresh models/ whose log says it was escalated."""
    url = installed(monkeypatch, tmp_path / "audit")
    settings = project_settings.model_copy(update={"models_dir": tmp_path / "models",
                                                   "audit_db_url": url})
    version = trained["version"]
    shutil.copytree(champion_dir, settings.models_dir / version)
    gates = [{"name": "vs_reference", "status": "escalate", "passed": False,
              "detail": "|CITL| upper bound +0.031 > 0.02"}]
    append_promotion(settings.models_dir, {"version": version, "event": "escalation",
                                           "gates": gates, "run_id": trained["run_id"]})
    monkeypatch.setenv("PROMOTED_BY", "dr-reviewer")
    return settings, version


def test_promote_records_who_why_and_the_accepted_escalations(escalated):
    settings, version = escalated
    entry = promote(settings, version, "calibration drift reviewed: population changed")
    assert (settings.models_dir / "CHAMPION").read_text().strip() == version
    last = read_promotions(settings.models_dir)[-1]
    assert last["event"] == "promotion" and last["promoted_by"] == "dr-reviewer"
    assert last["accepted_escalations"] == ["vs_reference"] == entry["accepted_escalations"]
    from mlflow import MlflowClient

    tags = MlflowClient(tracking_uri=settings.tracking_uri).get_model_version(
        settings.model_name, version).tags
    assert tags["promoted_by"] == "dr-reviewer" and tags["event"] == "promotion"
    with AuditStore(settings.audit_url) as store:
        actions = [a.action for a in store.list_access()]
    assert f"promotion version {version}" in actions


def test_promote_refuses_without_reason_or_escalation(escalated):
    settings, version = escalated
    with pytest.raises(PromotionError, match="REASON"):
        promote(settings, version, " ")
    with pytest.raises(PromotionError, match="not an escalated candidate"):
        promote(settings, "999", "because")


def test_rebaseline_names_the_new_reference(escalated):
    settings, version = escalated
    promote(settings, version, "reviewed")
    rebaseline(settings, version, "features changed: old reference cannot be scored")
    assert reference_version(settings.models_dir) == version
    assert read_promotions(settings.models_dir)[-1]["event"] == "rebaseline"


def test_records_without_any_valid_course_stop_with_counts(tmp_path, project_settings):
    from synthetic.__main__ import write_cohort
    from synthetic.cohort import generate
    from training.fit import FitParams
    from training.prepare import TrainingDataError
    from training.train import train

    cohort = generate(300, 5)
    bad = cohort.intake.assign(age_years=150)  # every intake row breaks the contract
    write_cohort(cohort.__class__(bad, cohort.sessions, cohort.outcomes, cohort.oracle,
                                  cohort.injected_errors), tmp_path / "raw")
    settings = project_settings.model_copy(update={"models_dir": tmp_path / "models",
                                                   "var_dir": tmp_path / "var"})
    with pytest.raises(TrainingDataError) as err:
        train(tmp_path / "raw", settings, seed=1, params=FitParams())
    text = str(err.value)
    assert "validation accepted no course" in text and "rows_in" in text
    assert "age_years" in text  # the most frequent reason names the field, never a value
    assert "150" not in text.split("most frequent")[1]


def test_a_few_hundred_courses_train_and_are_refused_with_reasons(tmp_path, project_settings,
                                                                 monkeypatch):
    from synthetic.__main__ import write_cohort
    from synthetic.cohort import generate
    from training.fit import FitParams
    from training.train import train

    write_cohort(generate(600, 8), tmp_path / "raw")
    settings = project_settings.model_copy(update={"models_dir": tmp_path / "models",
                                                   "var_dir": tmp_path / "var"})
    (tmp_path / "models").mkdir()
    result = train(tmp_path / "raw", settings, seed=8, params=FitParams())
    assert result["decision"] == "refuse", result["gates"]
    refused = [g for g in result["gates"] if g["status"] == "refuse"]
    assert refused and all(g["detail"] for g in refused)
    assert not (tmp_path / "models" / result["version"]).exists()  # refused: never exported
    assert result["not_assessable"]  # small groups listed, not silently passed
    # The refused version can still be reported on: make evaluate VERSION=n.
    from training.evaluate import main as evaluate_main

    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    out = tmp_path / "reports"
    assert evaluate_main(["--version", result["version"], "--quick", "--no-mlflow",
                          "--n-boot", "20", "--out", str(out)]) == 0
    report = json.loads((out / "evaluation.json").read_text())
    assert report["model_version"] == result["version"]
