"""The model card shipped with each exported version (Markdown, Mitchell et al. 2019 sections).

Every number comes from the arguments (the training run's metrics, data counts and subgroup
point estimates); the prose states what the model is and is not for.
"""

from __future__ import annotations

from features.spec import FEATURES
from riskmodel.artifact import RiskBands

INTENDED_USE = (
    "Estimate, at the end of a ketamine-plus-psychological-therapy course for severe alcohol use "
    "disorder, the probability of a first heavy drinking day within 180 days, to help clinicians "
    "decide who needs extra relapse-prevention support. Not a diagnosis; not for deciding "
    "whether to treat. Factors explain the model, not the patient's biology."
)
INTENDED_USERS = (
    "Clinicians of the treating service (through the EHR integration or the clinician "
    "interface), and auditors reviewing the service. Not patients directly."
)
OUT_OF_SCOPE = (
    "- Deciding whether to start, stop or withhold treatment, or any eligibility decision.",
    "- Diagnosis of alcohol use disorder or of any other condition.",
    "- Patients outside the training population: other treatments than ketamine plus "
    "psychological therapy, other outcomes or horizons than a first heavy drinking day within "
    "180 days, inputs outside the training range (flagged in `input_warnings`).",
    "- Insurance, employment, legal or any other non-clinical use.",
    "- Real patients at all until the model is validated on real data (it is trained on "
    "synthetic data here).",
)
FACTORS = (
    "Audited groups: sex, age band (18-29, 30-44, 45-59, 60+), race and ethnicity, and site. "
    "Site and race/ethnicity are never model inputs; they are used only to audit performance. "
    "Other relevant factors (co-occurring drug use, psychiatric comorbidity, social support) "
    "are only partly captured by the intake instruments."
)
ETHICS = (
    "- A false negative (relapse below the high-risk cut) may withhold extra support; the "
    "false-negative rate at that cut is reported per group above.",
    "- Sensitive attributes (race/ethnicity, site) are excluded from the inputs but can still "
    "be proxied by other inputs; subgroup results must be reviewed before each promotion.",
    "- Alcohol use data are sensitive health data: every score is written to a tamper-evident "
    "audit trail (keyed patient surrogates, never raw ids) with the model version.",
    "- A risk estimate can stigmatise; it is meant for the treating team, shown with its "
    "explanation (top factors), and must not be passed on for out-of-scope uses.",
)
CAVEATS = (
    "- Trained and tested on synthetic data in this repository (docs/data_card.md); not "
    "validated on real patients. Figures here say nothing about real-world performance.",
    "- Outcomes are censored; metrics are weighted by inverse probability of censoring "
    "(IPCW), which assumes censoring is explained by the inputs.",
    "- Subgroup figures are point estimates on the test part only; small groups are noisy. "
    "Intervals and tolerance flags are in the validation report (`make evaluate`, "
    "docs/validation.md).",
    "- Recalibrate and revalidate before use at a new site or after a change in practice; "
    "monitor drift (monitoring/) after deployment.",
    "- Use alongside clinical judgement; the risk bands are cut points for support planning, "
    "not thresholds for treatment.",
)
CARD_METRICS = ("auroc", "auprc", "brier", "ece", "calibration_slope", "calibration_intercept",
                "oracle_auroc", "auroc_true_outcomes", "n_test", "n_test_labelled")
ATTRIBUTE_LABELS = {"sex": "sex", "age_band": "age band", "race_ethnicity": "race/ethnicity",
                    "site": "site"}


def _num(v) -> str:
    if v is None:
        return "n/a"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def subgroup_table(subgroups: dict, high_cut: float) -> list[str]:
    """Markdown table of `training.validation.subgroups.subgroup_points` output."""
    lines = [f"| attribute | group | n | n labelled | AUROC | calibration-in-the-large | "
             f"FNR at high cut ({high_cut:.2f}) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for attr, groups in subgroups.items():
        label = ATTRIBUTE_LABELS.get(attr, attr)
        for g, e in groups.items():
            lines.append(f"| {label} | {g} | {e['n']} | {e['n_labelled']} | {_num(e['auroc'])} | "
                         f"{_num(e['calibration_in_the_large'])} | {_num(e['fnr_high'])} |")
    return lines


def render_model_card(*, name: str, version: str, run_id: str, metrics: dict, gates: list[dict],
                      bands: RiskBands, data: dict, params: dict,
                      subgroups: dict | None = None, decision: str = "",
                      not_assessable: list[str] | None = None) -> str:
    lines = [
        f"# Model card: {name} version {version}",
        "",
        "## Model details",
        f"- {name} version {version}, MLflow run `{run_id}`",
        f"- XGBoost, early stopping on validation (best iteration {params['best_iteration']}), "
        f"depth {params['max_depth']}, learning rate {params['learning_rate']}",
        f"- Platt calibration in log-odds (a={params['calibration_a']:.4f}, "
        f"b={params['calibration_b']:.4f}) so explanations add up",
        f"- Inputs: {', '.join(f.name for f in FEATURES)}",
        f"- Risk bands: low < {bands.moderate_from:.2f} <= moderate < {bands.high_from:.2f} "
        f"<= high",
        "- TRIPOD+AI checklist: `tripod_ai_checklist.md` beside this card",
        "",
        "## Intended use and users",
        INTENDED_USE,
        "",
        INTENDED_USERS,
        "",
        "## Out-of-scope uses",
        *OUT_OF_SCOPE,
        "",
        "## Factors",
        FACTORS,
        "",
        "## Metrics",
        "Test part, IPCW-weighted over labelled test courses (oracle figures: synthetic data "
        "only, true outcomes of every test course).",
        "",
        "| metric | value |",
        "| --- | --- |",
    ]
    for key in CARD_METRICS:
        if key in metrics:
            v = metrics[key]
            lines.append(f"| {key} | {v:.4f} |" if isinstance(v, float) else f"| {key} | {v} |")
    lines += ["", f"Promotion gates (decision: {decision or 'n/a'}):", "",
              "| gate | status | detail |", "| --- | --- | --- |"]
    lines += [f"| {g['name']} | {g.get('status', 'pass' if g['passed'] else 'refuse')} | "
              f"{g['detail']} |" for g in gates]
    if not_assessable:
        lines += ["", "Subgroups not assessable at this size (too few labelled test courses for "
                  "the subgroup gate's power; listed, not gated): " + ", ".join(not_assessable)]
    lines += [
        "",
        "## Evaluation and training data",
        f"- source folder: `{data['data_dir']}` (sha256 `{data['data_hash'][:16]}...`)",
        f"- courses: {data['n_courses']} ({data['n_labelled']} with a known 180-day outcome); "
        f"split by patient into train {data['n_train']}, validation {data['n_valid']}, "
        f"test {data['n_test']}",
        "- evaluation: the held-out test part (patients unseen in training or early stopping)",
        "- censoring: inverse probability of censoring weights (IPCW), pooled logistic model",
        "- data description: docs/data_card.md",
        "",
        "## Subgroup results",
    ]
    if subgroups:
        lines += ["Test part, point estimates (IPCW-weighted over labelled courses; n counts all "
                  "test courses of the group). Intervals and flags: `make evaluate`.", ""]
        lines += subgroup_table(subgroups, bands.high_from)
    else:
        lines.append("Not computed for this version.")
    lines += [
        "",
        "## Ethical considerations",
        *ETHICS,
        "",
        "## Caveats and recommendations",
        *CAVEATS,
    ]
    return "\n".join(lines) + "\n"
