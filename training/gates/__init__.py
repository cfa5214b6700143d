"""Promotion gates: the one place that decides whether a candidate becomes champion."""

from training.gates.decide import Comparator, GateReport, GateResult, evaluate

__all__ = ["Comparator", "GateReport", "GateResult", "evaluate"]
