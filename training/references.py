"""The versions a candidate is compared with: the champion and the reference.

The reference is the version recorded by the newest `make rebaseline` entry
of the promotion log, else the first version ever promoted. Comparing with it
as well as with the current champion stops losses accumulating in steps each
within the margin. A comparator that exists but cannot be loaded or scored
is returned with the reason, and the gates refuse: a silent "no champion yet"
would let any candidate through.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from riskmodel.artifact import champion_path
from riskmodel.champion import load_champion
from riskmodel.promotion_log import read_promotions
from training.gates import Comparator


def reference_version(models_dir: Path) -> str | None:
    entries = read_promotions(models_dir)
    rebaselines = [e for e in entries if e.get("event") == "rebaseline"]
    if rebaselines:
        return str(rebaselines[-1]["version"])
    promoted = [e for e in entries if e.get("event", "promotion") == "promotion"]
    return str(promoted[0]["version"]) if promoted else None


def _score(kind: str, version: str, models_dir: Path, X: np.ndarray) -> Comparator:
    label = f"{kind} v{version}"
    try:
        p = load_champion(models_dir, version).predict_proba(X)
    except Exception as exc:  # any failure to load or score is a reason to refuse
        return Comparator(kind, label, None, f"{type(exc).__name__}: {exc}")
    if p.shape != (len(X),) or not np.isfinite(p).all():
        return Comparator(kind, label, None, "its predictions are not one finite value per row")
    return Comparator(kind, label, p)


def comparators(models_dir: Path, X: np.ndarray) -> tuple[list[Comparator], str | None]:
    """(champion and reference comparators, the champion's version); none before a first
    promotion. A pointer to a champion that is gone is a comparator with a problem."""
    out = []
    champion = champion_path(models_dir)  # from the pointer, whether or not its export exists
    champion_version = champion.name if champion is not None else None
    if champion_version is not None:
        out.append(_score("champion", champion_version, models_dir, X))
    reference = reference_version(models_dir)
    if reference is not None:
        out.append(_score("reference", reference, models_dir, X))
    return out, champion_version
