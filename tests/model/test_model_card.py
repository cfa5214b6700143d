"""The model card and TRIPOD+AI checklist exported with a version trained by the real job."""

from __future__ import annotations

import json
import re

import pytest

from features.fields import SEX_CODES
from riskmodel.artifact import load_artifact, sha256_file
from training.train import TRIPOD_CHECKLIST

pytestmark = pytest.mark.filterwarnings("ignore")

SECTIONS = ("Model details", "Intended use and users", "Out-of-scope uses", "Factors", "Metrics",
            "Evaluation and training data", "Subgroup results", "Ethical considerations",
            "Caveats and recommendations")


def _rows(card: str, attribute: str) -> dict[str, list[str]]:
    out = {}
    for line in card.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == attribute:
            out[cells[1]] = cells[2:]
    return out


def test_card_has_every_mitchell_section(champion_dir):
    card = (champion_dir / "model_card.md").read_text()
    headings = re.findall(r"^## (.+)$", card, flags=re.M)
    assert headings == list(SECTIONS)
    assert load_artifact(champion_dir).model_card == card  # what GET /model serves


def test_card_metrics_are_the_computed_ones(trained, champion_dir):
    card = (champion_dir / "model_card.md").read_text()
    m = trained["metrics"]
    assert f"| auroc | {m['auroc']:.4f} |" in card
    assert f"| ece | {m['ece']:.4f} |" in card
    assert f"test {m['n_test']}" in card


def test_subgroup_table_covers_sexes_and_the_test_part(trained, champion_dir):
    card = (champion_dir / "model_card.md").read_text()
    sex = _rows(card, "sex")
    assert set(SEX_CODES) <= set(sex), sex
    n_test = trained["metrics"]["n_test"]
    for attribute in ("sex", "age band", "race/ethnicity", "site"):
        rows = _rows(card, attribute)
        assert rows, attribute
        assert sum(int(r[0]) for r in rows.values()) == n_test, attribute
        assert sum(int(r[1]) for r in rows.values()) == trained["metrics"]["n_test_labelled"]
    for group in SEX_CODES:
        n, n_labelled, auroc, citl, fnr = sex[group]
        assert int(n) >= int(n_labelled) > 0
        if int(n_labelled) >= 100:  # large groups: every metric is computed and in range
            assert 0.5 < float(auroc) <= 1 and abs(float(citl)) < 0.2 and 0 <= float(fnr) <= 1


def test_tripod_checklist_exported_in_manifest(champion_dir):
    name = TRIPOD_CHECKLIST.name
    manifest = json.loads((champion_dir / "manifest.json").read_text())
    assert name in manifest["files"]
    assert manifest["files"][name] == sha256_file(champion_dir / name)
    assert (champion_dir / name).read_text() == TRIPOD_CHECKLIST.read_text()


def test_card_and_checklist_logged_to_mlflow(trained, project_settings):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=project_settings.tracking_uri)
    logged = {a.path for a in client.list_artifacts(trained["run_id"])}
    assert {"model_card.md", TRIPOD_CHECKLIST.name} <= logged
