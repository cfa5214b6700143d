"""One chunk of raw records -> validated, featured, explained predictions (vectorised).

The same steps as `/score` (features/ validation and builder, RiskModel.explain,
the bands and the top-factor rule of riskmodel/), vectorised over the chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from features.builder import FeatureBatch, build_features, course_batch_from_frames
from features.course_status import EPOCH, NOT_ENDED_RULE, ended_mask
from features.records import RawRecords
from features.spec import FEATURE_NAMES
from features.validation import validate_records
from riskmodel.factors import TOP_FACTORS, top_factors_of
from riskmodel.predictor import Explained, RiskModel

_NAME_TEXT = pa.array(FEATURE_NAMES, pa.string())
_DIRECTION_TEXT = pa.array(["lowers", "raises"], pa.string())  # index: contribution > 0


@dataclass(frozen=True)
class ScoredChunk:
    features: FeatureBatch
    patient_ids: list[str]
    explained: Explained
    bands: np.ndarray  # object array of band names
    quarantined: dict[str, int]
    reasons: pd.DataFrame = field(repr=False)  # record, reason, rows (no values)
    quarantine: dict[str, pd.DataFrame] = field(repr=False, default_factory=dict)  # raw rows

    def __len__(self) -> int:
        return len(self.features.course_ids)


def score_chunk(model: RiskModel, raw: RawRecords) -> ScoredChunk:
    # The masks write the reasons: generated from the same field definitions as the pandera
    # schema and property-tested equal to it (tests/unit/test_fast_validation.py); pandera's
    # own cost (~60 ms per chunk with a bad row) was two thirds of a 10k-course batch.
    validated = validate_records(raw, confirm=False)
    intake, sessions, quarantine, reasons = _quarantine_unended(
        raw, validated.intake, validated.sessions, dict(validated.quarantine),
        validated.reason_counts())
    features = build_features(course_batch_from_frames(intake, sessions))
    if len(intake):
        explained = model.explain(features.matrix)
    else:  # a chunk may hold only quarantined rows
        empty = np.zeros(0)
        explained = Explained(empty, empty, np.zeros((0, len(FEATURE_NAMES))), empty)
    return ScoredChunk(features, intake["patient_id"].astype(str).tolist(), explained,
                       model.bands.of(explained.probability),
                       {r: len(f) for r, f in quarantine.items()}, reasons, quarantine)


def _quarantine_unended(raw: RawRecords, intake: pd.DataFrame, sessions: pd.DataFrame,
                        quarantine: dict[str, pd.DataFrame], reasons: pd.DataFrame
                        ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame],
                                   pd.DataFrame]:
    """Courses that have not ended (features/course_status.py, UTC) get no final score: their
    raw rows go to the quarantine with the rule's name, like any other bad course."""
    if not len(intake):
        return intake, sessions, quarantine, reasons
    last = sessions.groupby("course_id")["session_date"].max()
    end_day = ((last.reindex(intake["course_id"]).to_numpy().astype("datetime64[D]")
                - np.datetime64(EPOCH, "D")).astype(np.int64))
    open_course = ~ended_mask(end_day)
    if not open_course.any():
        return intake, sessions, quarantine, reasons
    ids = set(intake["course_id"][open_course])
    moved = {"intake": intake["course_id"].isin(ids), "sessions": sessions["course_id"].isin(ids)}
    counts = []
    for record, mask in moved.items():
        rows = raw.intake if record == "intake" else raw.sessions
        bad = rows.loc[(intake if record == "intake" else sessions).index[mask.to_numpy()]]
        bad = bad.assign(quarantine_reason=NOT_ENDED_RULE)
        quarantine[record] = pd.concat([quarantine[record], bad]) if record in quarantine else bad
        counts.append({"record": record, "reason": NOT_ENDED_RULE, "rows": int(mask.sum())})
    reasons = pd.concat([reasons, pd.DataFrame(counts)], ignore_index=True)
    return intake[~moved["intake"]], sessions[~moved["sessions"]], quarantine, reasons


def top_factor_column(values: np.ndarray, contributions: np.ndarray,
                      k: int = TOP_FACTORS) -> pa.Array:
    """list<struct> of each row's top factors (riskmodel/factors.py, as /score lists them)."""
    top = top_factors_of(values, contributions, k)
    structs = pa.StructArray.from_arrays(
        [_NAME_TEXT.take(pa.array(top.columns)),
         pa.array(top.values, pa.float64(), mask=np.isnan(top.values)),
         pa.array(top.shap, pa.float64()),
         _DIRECTION_TEXT.take(pa.array(top.raises.astype(np.int8)))],
        names=["feature", "value", "shap_log_odds", "direction"])
    return pa.ListArray.from_arrays(pa.array(top.offsets.astype(np.int32)), structs)


_FACTORS = pa.list_(pa.struct([("feature", pa.string()), ("value", pa.float64()),
                               ("shap_log_odds", pa.float64()), ("direction", pa.string())]))


def _field(name: str, kind: pa.DataType, meaning: str) -> pa.Field:
    return pa.field(name, kind, metadata={"meaning": meaning})


# Each column means what the same field of /score means (serving/schemas.py); a column is
# null where the version has no such part.
OUTPUT_SCHEMA = pa.schema([
    _field("course_id", pa.string(), "the course scored"),
    _field("relapse_probability_180d", pa.float64(),
           "calibrated probability of a first heavy drinking day within 180 days of course end"),
    _field("risk_band", pa.string(), "band cut at a stated harm:benefit ratio"),
    _field("base_log_odds", pa.float64(),
           "base + sum of all contributions = logit(probability)"),
    _field("top_factors", _FACTORS, "the five largest SHAP contributions: associations, not causes"),
    _field("calibration_interval_low", pa.float64(),
           "with 95% confidence, among courses given this probability the 180-day relapse rate "
           "is at least this (calibration curve on the validation part; not this patient's risk)"),
    _field("calibration_interval_high", pa.float64(), "upper limit of that interval"),
    _field("band_observed_relapse_rate", pa.float64(),
           "IPCW relapse rate of the course's band on the model's test part"),
    _field("band_observed_low", pa.float64(), "lower 95% limit of the band's observed rate"),
    _field("band_observed_high", pa.float64(), "upper 95% limit of the band's observed rate"),
    _field("relapse_risk_30d", pa.float64(), "model-based cumulative risk by day 30"),
    _field("relapse_risk_90d", pa.float64(), "model-based cumulative risk by day 90"),
    _field("model_version", pa.string(), "the model version that scored the course"),
    _field("warning", pa.string(), "set while the model was not trained on real records: the "
           "score is not for patient care"),
])


def output_table(chunk: ScoredChunk, model: RiskModel) -> pa.Table:
    e = chunk.explained
    n = len(chunk)
    p = e.probability
    served = model.served
    missing = pa.nulls(n, pa.float64())
    low = high = missing
    if served.calibration is not None:
        lo, hi = served.calibration.bounds(p)
        low, high = pa.array(lo), pa.array(hi)
    band_cols = [missing] * 3
    if served.bands:
        facts = [served.bands.get(b) for b in chunk.bands]
        band_cols = [pa.array([None if f is None else getattr(f, k) for f in facts],
                              pa.float64()) for k in ("observed_rate", "low", "high")]
    r30 = r90 = missing
    if served.curve is not None:
        risks = served.curve.risks(p)
        days = list(served.curve.days)
        r30, r90 = pa.array(risks[:, days.index(30)]), pa.array(risks[:, days.index(90)])
    return pa.Table.from_arrays(
        [pa.array(chunk.features.course_ids, pa.string()), pa.array(p),
         pa.array(chunk.bands, pa.string()), pa.array(e.base_log_odds),
         top_factor_column(chunk.features.matrix, e.contributions), low, high, *band_cols,
         r30, r90, pa.array([model.artifact.version] * n, pa.string()),
         pa.array([served.care_warning] * n, pa.string())], schema=OUTPUT_SCHEMA)
