"""Promotion gates read interval bounds, compare with the champion paired, and refuse
a model that fails a subgroup tolerance, naming the gate and the group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.gates_old import collect_evidence, evaluate_gates


def _cohort(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    true_p = rng.beta(2.2, 1.8, n)
    y = (rng.random(n) < true_p).astype(float)
    groups = rng.integers(0, int(n * 0.7), n)  # some patients have several courses
    attributes = pd.DataFrame({
        "sex": rng.choice(["female", "male"], n),
        "age_band": rng.choice(["18-29", "30-44", "45-59"], n),
        "race_ethnicity": rng.choice(["A", "B", "C"], n),
        "site": rng.choice(["S01", "S02", "S03", "S04"], n),
        "audit_band": rng.choice(["16-19", "20-40"], n, p=[0.2, 0.8]),
    })
    return true_p, y, np.ones(n), groups, attributes


def _gates(y, w, groups, p, attributes, p_champion=None) -> dict[str, tuple[bool, str]]:
    ev = collect_evidence(y, w, groups, p, attributes, high_cut=0.7, seed=1,
                          p_champion=p_champion, n_boot=150)
    return {g.name: (g.passed, g.detail) for g in evaluate_gates(ev)}


@pytest.fixture(scope="module")
def cohort():
    return _cohort(6000)


def test_a_calibrated_discriminating_model_passes_every_gate(cohort):
    true_p, y, w, groups, attributes = cohort
    gates = _gates(y, w, groups, true_p, attributes, p_champion=true_p)
    assert all(passed for passed, _ in gates.values()), gates
    assert "0.000 (95% CI 0.000 to 0.000)" in gates["vs_champion"][1]  # same model: no gap


def test_auroc_floor_reads_the_lower_bound_not_the_point():
    rng = np.random.default_rng(3)
    n = 260
    y = (rng.random(n) < 0.5).astype(float)
    p = np.clip(0.5 + 0.10 * (y - 0.5) + rng.normal(0, 0.16, n), 0.01, 0.99)
    ev = collect_evidence(y, np.ones(n), np.arange(n), p, pd.DataFrame({"sex": ["x"] * n}),
                          high_cut=0.7, seed=1, n_boot=150)
    auroc = ev.metrics["auroc"]
    assert auroc["estimate"] >= 0.65 > auroc["low"]  # the old point rule would have promoted it
    assert not {g.name: g.passed for g in evaluate_gates(ev)}["auroc_floor"]


def test_a_clearly_worse_candidate_is_refused_against_the_champion(cohort):
    true_p, y, w, groups, attributes = cohort
    rng = np.random.default_rng(5)
    worse = np.clip(true_p + rng.normal(0, 0.25, len(y)), 0.01, 0.99)
    gates = _gates(y, w, groups, worse, attributes, p_champion=true_p)
    assert not gates["vs_champion"][0]


def test_a_miscalibrated_site_is_refused_and_named(cohort):
    true_p, y, w, groups, attributes = cohort
    p = true_p.copy()
    site = attributes["site"].eq("S02").to_numpy()
    p[site] = np.clip(p[site] + 0.15, 0.01, 0.99)
    passed, detail = _gates(y, w, groups, p, attributes)["subgroup_tolerance"]
    assert not passed
    assert "site S02: calibration_in_the_large" in detail
    assert "S01" not in detail and "S03" not in detail


def test_severity_band_and_small_groups_are_reported_not_gated(cohort):
    true_p, y, w, groups, attributes = cohort
    p = true_p.copy()
    band = attributes["audit_band"].eq("16-19").to_numpy()
    p[band] = np.clip(p[band] + 0.2, 0.01, 0.99)
    attributes = attributes.copy()
    tiny = np.flatnonzero(attributes["race_ethnicity"].eq("C").to_numpy())[:60]
    attributes.loc[tiny, "race_ethnicity"] = "D"  # 60 labelled courses: below the minimum
    p[tiny] = np.clip(p[tiny] - 0.3, 0.01, 0.99)
    gates = _gates(y, w, groups, p, attributes)
    assert gates["subgroup_tolerance"][0], gates["subgroup_tolerance"][1]
