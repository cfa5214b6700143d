"""The model card shipped with each exported version (Markdown)."""

from __future__ import annotations

from features.spec import FEATURES
from riskmodel.artifact import RiskBands

INTENDED_USE = (
    "Estimate, at the end of a ketamine-plus-psychological-therapy course for severe alcohol use "
    "disorder, the probability of a first heavy drinking day within 180 days, to help clinicians "
    "decide who needs extra relapse-prevention support. Not a diagnosis; not for deciding "
    "whether to treat. Factors explain the model, not the patient's biology."
)


def render_model_card(*, name: str, version: str, run_id: str, metrics: dict, gates: list[dict],
                      bands: RiskBands, data: dict, params: dict) -> str:
    lines = [
        f"# Model card: {name} version {version}",
        "",
        "## Intended use",
        INTENDED_USE,
        "",
        "## Training data",
        f"- source folder: `{data['data_dir']}` (sha256 `{data['data_hash'][:16]}...`)",
        f"- courses: {data['n_courses']} ({data['n_labelled']} with a known 180-day outcome); "
        f"split by patient into train {data['n_train']}, validation {data['n_valid']}, "
        f"test {data['n_test']}",
        "- censoring: inverse probability of censoring weights (IPCW), pooled logistic model",
        "",
        "## Model",
        f"- XGBoost, early stopping on validation (best iteration {params['best_iteration']}), "
        f"depth {params['max_depth']}, learning rate {params['learning_rate']}",
        f"- Platt calibration in log-odds (a={params['calibration_a']:.4f}, "
        f"b={params['calibration_b']:.4f}) so explanations add up",
        f"- MLflow run `{run_id}`",
        "",
        "## Test metrics (IPCW-weighted, labelled test courses)",
        "| metric | value |",
        "| --- | --- |",
    ]
    for key in ("auroc", "auprc", "brier", "ece", "calibration_slope", "calibration_intercept",
                "oracle_auroc", "auroc_true_outcomes", "n_test", "n_test_labelled"):
        if key in metrics:
            v = metrics[key]
            lines.append(f"| {key} | {v:.4f} |" if isinstance(v, float) else f"| {key} | {v} |")
    lines += ["", "## Promotion gates", "| gate | passed | detail |", "| --- | --- | --- |"]
    lines += [f"| {g['name']} | {'yes' if g['passed'] else 'NO'} | {g['detail']} |" for g in gates]
    lines += [
        "",
        "## Risk bands",
        f"low < {bands.moderate_from:.2f} <= moderate < {bands.high_from:.2f} <= high",
        "",
        "## Inputs",
        ", ".join(f.name for f in FEATURES),
        "",
        "## Limitations",
        "- Trained on synthetic data in this repository; not validated on real patients.",
        "- Site and race/ethnicity are not inputs; subgroup performance must be checked before use.",
        "- Inputs outside the training range are flagged in `input_warnings`.",
    ]
    return "\n".join(lines) + "\n"
