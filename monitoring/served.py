"""What was served, read back from the audit store: features, predictions, outcomes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from audit import AuditStore
from audit.canonical import normalise_ts
from features.spec import FEATURE_NAMES


@dataclass(frozen=True)
class Served:
    frame: pd.DataFrame  # one row per prediction event: ts, version, probability, band, course_ref
    X: np.ndarray  # (n, F) in FEATURE_NAMES order, NaN for missing
    outcomes: pd.DataFrame  # newest outcome per course_ref: outcome (relapsed|no_relapse|censored)


def _value(v: object) -> float:
    return np.nan if v is None else float(v)  # type: ignore[arg-type]


def load_served(store: AuditStore, *, since: datetime | None = None) -> Served:
    """Every prediction event (optionally from `since`), oldest first, via keyset paging."""
    rows, vectors = [], []
    for r in store.iter_rows("prediction"):
        ts = pd.Timestamp(normalise_ts(r["ts"]))
        if since is not None and ts < pd.Timestamp(since):
            continue
        features = json.loads(r["features"])
        vectors.append([_value(features.get(n)) for n in FEATURE_NAMES])
        rows.append({"ts": ts, "model_version": r["model_version"],
                     "probability": float(r["probability"]), "risk_band": r["risk_band"],
                     "course_ref": r["course_ref"]})
    frame = pd.DataFrame(rows, columns=["ts", "model_version", "probability", "risk_band",
                                        "course_ref"])
    X = np.array(vectors, dtype=np.float64).reshape(len(rows), len(FEATURE_NAMES))
    outs = [{"course_ref": r["course_ref"], "outcome": r["outcome"], "seq": r["seq"]}
            for r in store.iter_rows("outcome")]
    outcomes = (pd.DataFrame(outs, columns=["course_ref", "outcome", "seq"])
                .sort_values("seq").drop_duplicates("course_ref", keep="last")
                .set_index("course_ref"))  # a later outcome corrects an earlier one
    return Served(frame, X, outcomes)
