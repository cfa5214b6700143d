"""Promotion gates: the one place that decides whether a candidate becomes champion.

Each gate compares the candidate with fixed bounds or with the current
champion scored on the same test rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

MIN_AUROC = 0.65
MAX_AUROC_DROP_VS_CHAMPION = 0.01
MAX_ECE = 0.05
SLOPE_RANGE = (0.8, 1.2)


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    detail: str


def evaluate_gates(candidate: dict, champion: dict | None) -> list[GateResult]:
    """`candidate` / `champion`: metrics on the same test rows (champion None if there is none)."""
    results = [
        GateResult("auroc_floor", candidate["auroc"] >= MIN_AUROC,
                   f"AUROC {candidate['auroc']:.3f} >= {MIN_AUROC}"),
        GateResult("calibration_error", candidate["ece"] <= MAX_ECE,
                   f"ECE {candidate['ece']:.3f} <= {MAX_ECE}"),
        GateResult("calibration_slope",
                   SLOPE_RANGE[0] <= candidate["calibration_slope"] <= SLOPE_RANGE[1],
                   f"slope {candidate['calibration_slope']:.2f} in {SLOPE_RANGE}"),
    ]
    if champion is None:
        results.append(GateResult("vs_champion", True, "no champion yet"))
    else:
        drop = champion["auroc"] - candidate["auroc"]
        results.append(GateResult(
            "vs_champion", drop <= MAX_AUROC_DROP_VS_CHAMPION,
            f"AUROC {candidate['auroc']:.3f} vs champion {champion['auroc']:.3f} on the same rows "
            f"(drop {drop:+.3f} <= {MAX_AUROC_DROP_VS_CHAMPION})"))
    return results


def gates_table(results: list[GateResult]) -> list[dict]:
    return [asdict(r) for r in results]
