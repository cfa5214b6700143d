"""Raw records folder -> validated, point-in-time training set with labels.

Labels follow DESIGN.md: y = relapse within 180 days of course end, unknown
(censored) when follow-up ended earlier without a relapse. Time is counted in
days from course end.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from features.builder import build_features, course_batch_from_frames
from features.records import find_record_file, read_records
from features.spec import FEATURE_NAMES
from features.validation import ValidatedRecords, validate_records
from training.censoring import mature_courses

console = Console(stderr=True, soft_wrap=True)
ORACLE_FILE = Path("oracle") / "oracle.csv"


@dataclass(frozen=True)
class TrainingSet:
    """One row per labelled-or-censored course; X in FEATURE_NAMES order."""

    frame: pd.DataFrame  # index course_id; columns meta + features
    data_hash: str
    validation_note: str = ""  # rows in / accepted / quarantined and the top reasons

    @property
    def X(self) -> np.ndarray:
        return self.frame[list(FEATURE_NAMES)].to_numpy(dtype=np.float64)

    @property
    def labelled(self) -> np.ndarray:
        return self.frame["label"].notna().to_numpy()

    @property
    def y(self) -> np.ndarray:
        return self.frame["label"].fillna(False).astype(bool).to_numpy()


def data_hash(data_dir: Path) -> str:
    """sha256 over the three record files, so a run names exactly what it saw."""
    digest = hashlib.sha256()
    for record in ("intake", "sessions", "outcomes"):
        path = find_record_file(data_dir, record)
        if path is not None:
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def print_validation(validated: ValidatedRecords, quarantine_dir: Path | None) -> None:
    console.print(validated.summary().to_string(index=False))
    reasons = validated.reason_counts()
    if len(reasons):
        console.print("quarantine reasons:\n" + reasons.to_string(index=False))
    if quarantine_dir is not None:
        console.print(f"quarantined rows written to {quarantine_dir}/")


def _labels(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Labels, times and maturity. The data cut-off is the latest follow-up end on file;
    a course that ended less than 180 days before it is immature: nobody could have been
    followed to the horizon, so its label stays unknown even when it relapsed early
    (training/censoring.py says why no weight can stand in for it)."""
    end = outcomes["course_end_date"]
    follow_days = (outcomes["followup_end_date"] - end).dt.days
    relapse_days = (outcomes["relapse_date"] - end).dt.days
    event = relapse_days.notna()
    cutoff = outcomes["followup_end_date"].max()
    mature = (mature_courses(end.to_numpy("datetime64[D]"), cutoff.to_datetime64())
              if pd.notna(cutoff) else np.zeros(len(end), dtype=bool))
    return pd.DataFrame({
        "course_id": outcomes["course_id"].astype(str),
        "label": outcomes["relapsed_180d"].where(mature),
        "mature": mature,
        "course_end_date": end,
        "event_observed": event,
        "time_days": relapse_days.where(event, follow_days).astype(float),
        "followup_days": follow_days.astype(float),
    })


def load_training_set(data_dir: Path, *, quarantine_dir: Path | None = None,
                      verbose: bool = True) -> TrainingSet:
    """Validate the folder, quarantine bad rows, build features as of course end, join labels."""
    data_dir = Path(data_dir)
    validated = validate_records(read_records(data_dir))
    if quarantine_dir is not None:
        validated.write_quarantine(quarantine_dir)
    if verbose:
        print_validation(validated, quarantine_dir)
    intake, sessions = validated.intake, validated.sessions
    features = build_features(course_batch_from_frames(intake, sessions)).frame()
    meta = intake.set_index(intake["course_id"].astype(str))[
        ["patient_id", "site", "intake_date", "sex", "race_ethnicity", "audit_total"]]
    meta = meta.rename(columns={"audit_total": "audit_total_raw"})
    labels = _labels(validated.outcomes).set_index("course_id")
    frame = meta.join(labels, how="inner").join(features, how="inner")
    frame.index.name = "course_id"
    return TrainingSet(frame, data_hash(data_dir), validation_note(validated))


def validation_note(validated: ValidatedRecords, top: int = 5) -> str:
    """Counts per record and the most frequent quarantine reasons (fields, never values)."""
    lines = [validated.summary().to_string(index=False)]
    reasons = validated.reason_counts()
    if len(reasons):
        lines.append("most frequent quarantine reasons:")
        lines.append(reasons.sort_values("rows", ascending=False).head(top)
                     .to_string(index=False))
    return "\n".join(lines)


def load_oracle(data_dir: Path) -> pd.DataFrame | None:
    """The synthetic generator's truth; only evaluation reads it, never feature code."""
    path = Path(data_dir) / ORACLE_FILE
    if not path.exists():
        return None
    oracle = pd.read_csv(path, dtype={"course_id": "str"})
    return oracle.set_index("course_id")

