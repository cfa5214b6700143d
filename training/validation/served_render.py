"""The report section on what each served number means (training/validation/served_checks.py)."""

from __future__ import annotations


def _pct(x: float) -> str:
    return f"{x:.1%}"


def served_section(s: dict) -> list[str]:
    va = s["calibration_interval"]
    L = ["", "## Served numbers: do they mean what they say? (issue 12)", "",
         f"Parts {s['source']}; {s['n_test']} test courses.", "",
         "### Calibration interval (`calibration_interval`, 95 %)", "",
         f"In deciles of the served probability, the IPCW relapse rate lies within "
         f"[mean low, mean high] +- 1.96 SE in **{va['observed_inside']} of {va['n_deciles']}** "
         f"deciles (needs >= {va['min_inside']}); mean width {va['mean_width']:.3f}."]
    if "true_inside" in va:
        L.append(f"The mean true risk (synthetic oracle) lies there in **{va['true_inside']} of "
                 f"{va['n_deciles']}**.")
    L += ["", "| decile | n | mean p | mean low | mean high | IPCW rate | SE | inside | "
          "mean true risk |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for k, d in enumerate(va["deciles"], 1):
        true = f"{d['mean_true']:.3f}" if "mean_true" in d else "-"
        L.append(f"| {k} | {d['n']} | {d['mean_p']:.3f} | {d['mean_low']:.3f} | "
                 f"{d['mean_high']:.3f} | "
                 f"{d['observed_ipcw']:.3f} | {d['se']:.3f} | "
                 f"{'yes' if d['observed_inside'] else '**no**'} | {true} |")
    c = s["curve"]
    fam = f" (relapse-time family of the data: {c['family']})" if c.get("family") else ""
    L += ["", f"### Risk curve calibration{fam}", "",
          "| day | mean predicted | IPCW observed | max decile gap (observed) | mean true | "
          "max decile gap (true) |", "| --- | --- | --- | --- | --- | --- |"]
    for day in ("30", "90", "180"):
        d = c[day]
        L.append(f"| {day} | {d['mean_predicted']:.3f} | {d['observed_ipcw']:.3f} | "
                 f"{d['decile_max_abs_gap_observed']:.3f} | "
                 + (f"{d['mean_true']:.3f} | {d['decile_max_abs_gap_true']:.3f} |"
                    if "mean_true" in d else "- | - |"))
    o = s["ood"]
    L += ["", "### Out-of-distribution check (Mahalanobis, 99.5th percentile of training)", "",
          f"Flagged: {_pct(o['held_out_flagged'])} of held-out courses (target <= "
          f"{_pct(o['max_held_out'])}); {_pct(o['independent_draws_flagged'])} of courses with "
          f"each value drawn independently from its training distribution (target >= "
          f"{_pct(o['min_independent'])})."]
    L += ["", "### Risk bands (served `band_observed`)", "",
          "| band | meaning | n | IPCW relapse rate (95% CI) | share of relapses | mean true risk |",
          "| --- | --- | --- | --- | --- | --- |"]
    for name, b in s["bands"].items():
        true = (f"{b['mean_true']:.3f} ({'covered' if b['ci_covers_true'] else '**not covered**'})"
                if "mean_true" in b else "-")
        L.append(f"| {name} | {b['meaning']} | {b['n']} | {b['observed_rate']:.3f} "
                 f"({b['low']:.3f} to {b['high']:.3f}) | {_pct(b['share_of_relapses'])} | {true} |")
    return L


def served_lines(s: dict) -> list[str]:
    """One-line verdicts for `make evaluate`'s console output."""
    va, o, c = s["calibration_interval"], s["ood"], s["curve"]
    line = (f"calibration interval: observed rate inside in {va['observed_inside']}/{va['n_deciles']} "
            f"deciles")
    if "true_inside" in va:
        line += f", true risk inside in {va['true_inside']}/{va['n_deciles']}"
    curve = ", ".join(
        f"{d}d pred {c[d]['mean_predicted']:.3f} obs {c[d]['observed_ipcw']:.3f}"
        + (f" true {c[d]['mean_true']:.3f} (max decile gap {c[d]['decile_max_abs_gap_true']:.3f})"
           if "mean_true" in c[d] else "") for d in ("30", "90", "180"))
    return [line + f"; mean width {va['mean_width']:.3f}",
            f"risk curve ({c.get('family') or 'observed'}): {curve}",
            f"OOD flagged: held-out {o['held_out_flagged']:.2%}, independent draws "
            f"{o['independent_draws_flagged']:.1%}",
            "bands: " + "; ".join(
                f"{k} {b['observed_rate']:.3f} ({b['low']:.3f}-{b['high']:.3f})"
                + (f" true {b['mean_true']:.3f}" if "mean_true" in b else "")
                for k, b in s["bands"].items())]
