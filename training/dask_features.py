"""Record files -> course-level training frame with dask.dataframe, in partitions.

Every record file is read as text by dask and shuffled on a hash of the
stripped course_id into the same number of partitions, so partition i of
intake, sessions and outcomes holds all rows of the same courses. Each
partition then goes through exactly the pandas code: features.validation
(whole-course quarantine), features.builder and the label join of
training.dataset. Source row numbers are per block here, so quarantined rows
are counted, not located (`make validate` locates them).
"""

from __future__ import annotations

from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd

from features.builder import build_features, course_batch_from_frames
from features.records import RECORDS, RawRecords, find_record_file
from features.validation import validate_records
from training.dataset import TrainingSet, _labels, data_hash

_KEY = "_course_part"


def _read(path: Path, blocksize: int | str) -> dd.DataFrame:
    if path.suffix == ".parquet":
        return dd.read_parquet(path)
    return dd.read_csv(path, dtype="str", keep_default_na=False, na_values=[""],
                       blocksize=blocksize)


def _with_key(frame: dd.DataFrame, n_parts: int) -> dd.DataFrame:
    def key(part: pd.DataFrame) -> pd.DataFrame:
        ids = part["course_id"].astype("str").str.strip().fillna("")
        # many distinct keys: dask hashes them again into partitions, evenly
        hashed = pd.util.hash_pandas_object(ids, index=False).to_numpy()
        return part.assign(**{_KEY: (hashed >> np.uint64(1)).astype(np.int64)})

    return frame.map_partitions(key)


def course_partitions(data_dir: Path, n_parts: int,
                      blocksize: int | str = "64MB") -> dict[str, dd.DataFrame]:
    """The three record files, co-partitioned by course (partition i = same courses)."""
    out = {}
    for record in RECORDS:
        path = find_record_file(Path(data_dir), record)
        if path is None:
            raise FileNotFoundError(f"{record}: no {record}.csv or {record}.parquet in {data_dir}")
        keyed = _with_key(_read(path, blocksize), n_parts)
        # the same key and partition count put a course in the same partition of every file
        out[record] = keyed.shuffle(_KEY, npartitions=n_parts, method="tasks").map_partitions(
            lambda p: p.drop(columns=[_KEY]))
    return out


def _frame_of(intake: pd.DataFrame, sessions: pd.DataFrame,
              outcomes: pd.DataFrame) -> tuple[pd.DataFrame | None, int]:
    """One partition -> (training rows as load_training_set builds them, rows quarantined)."""
    for f in (intake, sessions, outcomes):
        f.index = pd.RangeIndex(1, len(f) + 1, name="source_row")
    if not len(intake):  # only orphan sessions / outcomes here: all quarantined
        return None, len(sessions) + len(outcomes)
    v = validate_records(RawRecords(intake, sessions, outcomes))
    quarantined = sum(len(q) for q in v.quarantine.values())
    features = build_features(course_batch_from_frames(v.intake, v.sessions)).frame()
    meta = v.intake.set_index(v.intake["course_id"].astype(str))[
        ["patient_id", "site", "intake_date", "sex", "race_ethnicity", "audit_total"]]
    meta = meta.rename(columns={"audit_total": "audit_total_raw"})
    labels = _labels(v.outcomes).set_index("course_id")
    frame = meta.join(labels, how="inner").join(features, how="inner")
    frame.index.name = "course_id"
    return frame, quarantined


def load_training_set_dask(data_dir: Path, n_parts: int) -> tuple[TrainingSet, int]:
    """The same TrainingSet as training.dataset.load_training_set, built in partitions.

    Returns it with the number of quarantined rows. The course-level frame is
    gathered on the client: it is ~45 floats a course (360 MB at 1M courses).
    """
    import dask

    parts = course_partitions(data_dir, n_parts)
    blocks = [p.to_delayed() for p in (parts["intake"], parts["sessions"], parts["outcomes"])]
    results = dask.compute(*(dask.delayed(_frame_of)(i, s, o) for i, s, o in zip(*blocks,
                                                                                strict=True)))
    frames = [f for f, _ in results if f is not None and len(f)]
    frame = pd.concat(frames).sort_index()  # a stable order whatever the partitioning
    return TrainingSet(frame, data_hash(Path(data_dir))), sum(q for _, q in results)
