"""validation.json -> validation.md (and a plain HTML page with the same content).

Every figure in the text comes from the report dict; nothing is typed in by hand.
"""

from __future__ import annotations

import html
import re

from training.validation.served_render import served_section

NAMES = {"xgboost": "XGBoost", "logistic_regression": "logistic regression",
         "clinical_rule": "clinical rule"}
MAIN = ("auroc", "auprc", "brier", "calibration_slope", "calibration_intercept", "ece",
        "calibration_in_the_large")


def ci(d: dict, digits: int = 3) -> str:
    return f"{d['estimate']:.{digits}f} ({d['low']:.{digits}f} to {d['high']:.{digits}f})"


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def _models_table(block: dict) -> list[str]:
    names = list(block["models"])
    lines = ["| metric | " + " | ".join(NAMES.get(n, n) for n in names) + " |",
             "| --- |" + " --- |" * len(names)]
    for k in MAIN:
        lines.append(f"| {k} | " + " | ".join(ci(block["models"][n][k]) for n in names) + " |")
    return lines


def _vs(block: dict) -> list[str]:
    lines = []
    for name, d in block["vs_reference"].items():
        verdict = ("beats" if d["reference_better_auroc"] else "does **not** beat")
        lines.append(f"- XGBoost {verdict} {NAMES.get(name, name)}: AUROC difference "
                     f"{ci(d['auroc'])}; Brier difference {ci(d['brier'], 4)} "
                     "(negative = XGBoost better).")
    return lines


def render_markdown(r: dict, header: dict) -> str:
    held = r["held_out"]
    L = [f"# Validation report: {header['model_name']} version {header['model_version']}", "",
         f"Data `{header['data_dir']}` (sha256 `{header['data_hash'][:16]}...`); "
         f"{'synthetic cohort with oracle' if r['synthetic'] else 'no oracle'}. "
         "All metrics use IPCW weights on courses with a known 180-day outcome; intervals are "
         f"95% percentile intervals from {held['n_boot']} bootstrap draws of patients "
         "(all of a drawn patient's courses move together). Method: `docs/validation.md`.", "",
         "## Verdict", ""]
    L += _vs(held)
    if "repeated_cv" in r:
        cv = r["repeated_cv"]
        L.append(f"- Repeated grouped CV: XGBoost has the higher AUROC than logistic regression "
                 f"in {cv['xgboost_beats_logistic_in_folds']} of {cv['n_folds']} folds.")
    if "oracle_gap" in held:
        L.append(f"- Gap to the oracle AUROC (true outcomes, same test rows): "
                 f"{ci(held['oracle_gap'])}; oracle {held['oracle_auroc']:.3f}, "
                 f"model {held['auroc_true_outcomes']:.3f}.")
        L.append(f"- ECE noise floor: the generator's true probabilities, scored like a model "
                 f"on the same labels, give ECE {ci(held['ece_noise_floor'])} (model: "
                 f"{ci(held['models']['xgboost']['ece'])}); ECE cannot be read finer than this.")
    L.append(f"- Subgroup flags beyond tolerance: {len(r['subgroups']['flags'])}.")
    L += ["", f"## Held-out test part ({held['n_courses']} courses, {held['n_labelled']} labelled)",
          "", f"Clinical rule: {held['rule']}.", ""]
    L += _models_table(held)
    iso = held["isotonic_comparison"]
    L += ["", "Calibration map comparison on the same rows (isotonic is not served: it breaks "
          "the SHAP add-up identity):", "", "| map | ECE | Brier | slope | AUROC |",
          "| --- | --- | --- | --- | --- |"]
    for k in ("platt", "isotonic"):
        v = iso[k]
        L.append(f"| {k} | {v['ece']:.4f} | {v['brier']:.4f} | {v['calibration_slope']:.3f} | "
                 f"{v['auroc']:.4f} |")
    L += ["", "![ROC](roc_baselines.png) ![Reliability](reliability.png)", ""]
    L += _cut_section(held)
    L += _subgroup_section(r["subgroups"])
    if "repeated_cv" in r:
        L += _cv_section(r["repeated_cv"])
    if "temporal" in r:
        t = r["temporal"]
        L += ["", "## Temporal validation", "",
              f"Training courses: course end {t['train_period'][0]} to {t['train_period'][1]}, "
              f"each with its 180-day window closed before the cutoff {t['cutoff']} "
              f"({t['n_train']} courses); test: course end {t['test_period'][0]} to "
              f"{t['test_period'][1]} ({t['n_courses']} courses, {t['n_labelled']} labelled); "
              f"{t['n_gap_excluded']} courses in the gap excluded; "
              f"{t['test_share_patients_seen_in_training']:.1%} of test courses belong to "
              "patients seen in training (as in deployment).", ""]
        L += _models_table(t) + [""] + _vs(t) + _truth_line(t)
    if "leave_one_site_out" in r:
        L += _site_section(r["leave_one_site_out"])
    if "censoring" in r:
        L += _censoring_section(r["censoring"])
    if "survival" in r:
        L += _survival_section(r["survival"])
    if "intervals" in r:
        L += _interval_section(r["intervals"])
    if "served_numbers" in r:
        L += served_section(r["served_numbers"])
    L += ["", "## Global explanation", "", "![SHAP](shap_summary.png)", "",
          "Timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in r["seconds"].items())]
    return "\n".join(L) + "\n"


def _truth_line(block: dict) -> list[str]:
    t = block.get("truth")
    if not t:
        return []
    return ["", f"On the true outcomes of every test course: XGBoost AUROC "
            f"{t['xgboost_auroc_true_outcomes']:.3f}, logistic regression "
            f"{t['logistic_regression_auroc_true_outcomes']:.3f}, oracle {t['oracle_auroc']:.3f}."]


def _cut_section(held: dict) -> list[str]:
    cp = held["cut_points"]
    L = ["## Decision curve and risk-band cut points", "",
         "![Decision curve](decision_curve.png)", "",
         "| cut | sensitivity | specificity | PPV | NPV | flagged | net benefit | treat-all |",
         "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, c in cp["cuts"].items():
        L.append(f"| {name} = {c['cut']:.2f} | {ci(c['sensitivity'])} | {ci(c['specificity'])} | "
                 f"{ci(c['ppv'])} | {ci(c['npv'])} | {ci(c['flagged'])} | "
                 f"{ci(c['net_benefit'])} | {c['net_benefit_treat_all']:.3f} |")
    rng = cp["useful_range"]
    L += ["", "Why these cuts: a cut t means accepting (1 - t) / t unneeded extra-support "
          "referrals per relapse reached (" + ", ".join(
              f"{c['cut']:.2f}: {c['referrals_accepted_per_relapse_reached']:.2f}"
              for c in cp["cuts"].values()) + "). "
          + (f"XGBoost's net benefit exceeds both treat-all and treat-none by at least "
             f"{cp['net_benefit_margin']} for thresholds {rng[0]:.2f} to {rng[1]:.2f}; " if rng else
             "XGBoost's net benefit never exceeds both defaults; ")
          + "; ".join(f"{n} {'is' if ok else 'is **not**'} inside that range"
                      for n, ok in cp["cuts_within_useful_range"].items())
          + f". The Youden-optimal threshold is {cp['youden_threshold']:.2f}. The moderate "
          "cut keeps NPV and sensitivity high (few relapses left in the low band); the high cut "
          "keeps PPV high for the most intensive support."]
    return L


def _subgroup_section(s: dict) -> list[str]:
    tol = s["tolerance"]
    L = ["", "## Subgroups", "",
         f"fairlearn MetricFrame point estimates, {s['n_boot']} patient-bootstrap draws for "
         f"intervals. Flag rule: AUROC more than {tol['auroc']} below the whole test part, "
         f"|calibration-in-the-large| above {tol['calibration_in_the_large']}, or FNR at the "
         f"high-risk cut ({s['high_cut']:.2f}) more than {tol['fnr_high']} above the whole part; "
         f"groups with fewer than {s['min_labelled']} labelled courses are shown, not judged.",
         "", "![Subgroup forest plot](subgroup_forest.png)", "",
         "| attribute | group | n (labelled) | AUROC | calibration-in-the-large | FNR at high cut | "
         "mean predicted - mean true risk (synthetic) | flags |",
         "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for a, block in s["attributes"].items():
        o = block["overall"]
        L.append(f"| {a} | all | | {o['auroc']:.3f} | {o['calibration_in_the_large']:+.3f} | "
                 f"{o['fnr_high']:.3f} | | |")
        for g, e in block["groups"].items():
            flags = ", ".join(f"{f['metric']} gap {f['gap']:.3f}" for f in e["flags"])
            bias = e.get("bias_vs_true_probability")
            truth = "-" if bias is None else f"{bias:+.3f}"
            L.append(f"| {a} | {g} | {e['n']} ({e['n_labelled']}) | {ci(e['auroc'])} | "
                     f"{ci(e['calibration_in_the_large'])} | {ci(e['fnr_high'])} | "
                     f"{truth} | {flags or '-'} |")
    return L


def _cv_section(cv: dict) -> list[str]:
    L = ["", f"## Repeated patient-grouped cross-validation ({cv['repeats']} x {cv['folds']} "
         "folds)", "", "Each fold refits the whole procedure (censoring model, early stopping, "
         "Platt) on its training folds. Mean, SD and range over folds:", "",
         "| model.metric | mean | SD | min | max |", "| --- | --- | --- | --- | --- |"]
    for k, v in cv["summary"].items():
        L.append(f"| {k} | {v['mean']:.4f} | {v['sd']:.4f} | {v['min']:.4f} | {v['max']:.4f} |")
    return L


def _site_section(sites: dict) -> list[str]:
    L = ["", "## Leave one site out", "", "Trained on the other sites, tested on the site.", "",
         "| site | labelled | XGBoost AUROC | logistic AUROC | XGBoost - logistic | "
         "calibration-in-the-large | slope | ECE | true-outcome AUROC (oracle) |",
         "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for site, b in sites.items():
        x = b["models"]["xgboost"]
        t = b.get("truth")
        tt = (f"{t['xgboost_auroc_true_outcomes']:.3f} ({t['oracle_auroc']:.3f})" if t else "-")
        L.append(f"| {site} | {b['n_labelled']} | {ci(x['auroc'])} | "
                 f"{ci(b['models']['logistic_regression']['auroc'])} | "
                 f"{ci(b['vs_reference']['logistic_regression']['auroc'])} | "
                 f"{ci(x['calibration_in_the_large'])} | {ci(x['calibration_slope'], 2)} | "
                 f"{ci(x['ece'])} | {tt} |")
    return L


def _censoring_section(c: dict) -> list[str]:
    if not c.get("available"):
        return ["", "## Censoring sensitivity", "", c.get("reason", "not available")]
    L = ["", "## Censoring sensitivity", "",
         f"Same training rows, three label/weight variants; judged on the true outcomes of all "
         f"{c['n_test']} test courses ({c['censored_share_test']:.1%} censored before 180 days; "
         f"true relapse rate {c['true_rate']:.3f}).", "",
         "| variant | AUROC (true outcomes) | mean predicted - true rate | MAE vs true p | "
         "measured rate - true | measured AUROC - true-outcome AUROC |",
         "| --- | --- | --- | --- | --- | --- |"]
    for v, d in c["variants"].items():
        L.append(f"| {v} | {d['auroc']:.3f} | {d['bias']:+.3f} | "
                 f"{d['mean_abs_error_vs_true_probability']:.3f} | {d['rate_bias']:+.3f} | "
                 f"{d['measured_auroc_bias']:+.3f} |")
    return L


def _survival_section(s: dict) -> list[str]:
    L = ["", "## Time to relapse (XGBoost survival:aft, Weibull)", "",
         f"Fitted on the training part (sigma {s['sigma']} chosen on validation likelihood), "
         f"tested on {s['n']} test courses with all their follow-up. Harrell's c-index "
         f"{s['c_index']:.3f}.", "",
         "| day | time-dependent AUROC | mean predicted risk | Kaplan-Meier risk | "
         "mean true risk | MAE vs true risk |", "| --- | --- | --- | --- | --- | --- |"]
    for t, auc in s["time_dependent_auroc"].items():
        true_mean = s.get("mean_true_risk", {}).get(t)
        mae = s.get("mae_vs_true_risk", {}).get(t)
        L.append(f"| {t} | {auc:.3f} | {s['mean_risk'][t]:.3f} | "
                 f"{s['kaplan_meier_risk'][t]:.3f} | "
                 f"{'-' if true_mean is None else f'{true_mean:.3f}'} | "
                 f"{'-' if mae is None else f'{mae:.3f}'} |")
    a = s.get("agreement_180d")
    if a:
        L += ["", f"Agreement of the 180-day risk with the classifier: Pearson {a['pearson']:.3f}, "
              f"mean difference {a['mean_difference']:+.3f}, mean absolute difference "
              f"{a['mean_abs_difference']:.3f}."]
    return L


def _interval_section(s: dict) -> list[str]:
    L = ["", "## Model instability (bootstrap ensemble; not served)", "",
         f"{s['members']} members on patient-bootstrap resamples of the training part; "
         f"central {s['level']:.0%} range of their probabilities. Mean width "
         f"{s['mean_width']:.3f} (median {s['median_width']:.3f}); the served probability lies "
         f"inside its interval for {s['served_inside_interval']:.1%} of test courses."]
    if "coverage_true_probability" in s:
        L.append("")
        L.append(f"Coverage of the true probability (synthetic oracle): "
                 f"{s['coverage_true_probability']:.1%} overall; by band: " + ", ".join(
                     f"{k} {v:.1%}" for k, v in s["coverage_by_band"].items())
                 + ". The interval reflects estimation variance only, not the model's bias "
                 "against the true risk, so coverage below the nominal level measures that bias.")
    return L


def markdown_to_html(md: str, title: str) -> str:
    """Just enough Markdown for this report: headings, lists, tables, images, paragraphs."""
    out, in_table, in_list = [], False, False

    def inline(text: str) -> str:
        text = html.escape(text)
        text = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", r'<img alt="\1" src="\2">', text)
        text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
        return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)

    for line in md.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(set(c) <= {"-", " "} for c in cells):
                continue
            if not in_table:
                out.append("<table>")
                in_table = True
                out.append("<tr>" + "".join(f"<th>{inline(c)}</th>" for c in cells) + "</tr>")
            else:
                out.append("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        if line.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{inline(line[2:])}</li>")
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{inline(line[level:].strip())}</h{level}>")
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
    if in_table:
        out.append("</table>")
    if in_list:
        out.append("</ul>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:"
             "collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:48%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n")
