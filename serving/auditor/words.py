"""A stored feature vector in words, with the labels and units from features/spec.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from features.spec import FEATURES

_BY_NAME = {f.name: f for f in FEATURES}


@dataclass(frozen=True)
class FeatureLine:
    name: str
    label: str
    value_text: str
    shap: float | None


def _number(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.2f}"


def value_in_words(name: str, value: object) -> str:
    """'yes'/'no' for flags, number and unit otherwise; 'not recorded' for missing."""
    spec = _BY_NAME.get(name)
    if value is None:
        return "not recorded"
    if not isinstance(value, int | float) or isinstance(value, bool):
        return str(value)
    unit = spec.unit if spec else ""
    if unit == "yes=1":
        return "yes" if value >= 0.5 else "no"
    if unit == "fraction":
        return f"{100 * value:.0f}%"
    if unit.startswith("points"):
        scale = unit.removeprefix("points").strip()
        return f"{_number(value)} points" + (f" (scale {scale})" if scale else "")
    return _number(value) if unit == "count" else f"{_number(value)} {unit}".strip()


def feature_lines(features: Mapping[str, object],
                  shap_values: Mapping[str, float]) -> list[FeatureLine]:
    """One line per feature, largest |SHAP| first (features without SHAP last)."""
    lines = [FeatureLine(name, _BY_NAME[name].label if name in _BY_NAME else name,
                         value_in_words(name, value), shap_values.get(name))
             for name, value in features.items()]
    return sorted(lines, key=lambda f: -abs(f.shap) if f.shap is not None else 1.0)
