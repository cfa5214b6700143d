"""Reading raw record files (CSV or Parquet) from a data folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.fields import RECORD_FIELDS

RECORDS = ("intake", "sessions", "outcomes")


class RecordFileError(ValueError):
    """A whole file is unusable (missing, unreadable, missing columns)."""


@dataclass(frozen=True)
class RawRecords:
    """The three files as read: text columns, source row numbers in the index."""

    intake: pd.DataFrame
    sessions: pd.DataFrame
    outcomes: pd.DataFrame | None

    def frame(self, record: str) -> pd.DataFrame | None:
        return getattr(self, record)


def find_record_file(data_dir: Path, record: str) -> Path | None:
    for suffix in (".parquet", ".csv"):
        path = data_dir / f"{record}{suffix}"
        if path.exists():
            return path
    return None


def read_record_file(path: Path, record: str) -> pd.DataFrame:
    """Read one file; index = 1-based data row number (CSV line number minus the header)."""
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype="str", keep_default_na=False, na_values=[""])
    except (OSError, ValueError) as exc:
        raise RecordFileError(f"{record}: cannot read {path.name}: {type(exc).__name__}") from exc
    missing = [f.name for f in RECORD_FIELDS[record] if f.name not in frame.columns]
    if missing:
        raise RecordFileError(f"{record}: {path.name} lacks columns {', '.join(missing)}")
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="source_row")
    return frame


def read_records(data_dir: Path, *, require_outcomes: bool = True) -> RawRecords:
    """Read intake, sessions and (optionally) outcomes from `data_dir`."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise RecordFileError(f"data folder {data_dir} does not exist (run `make data`?)")
    frames: dict[str, pd.DataFrame | None] = {}
    for record in RECORDS:
        path = find_record_file(data_dir, record)
        if path is None:
            if record == "outcomes" and not require_outcomes:
                frames[record] = None
                continue
            raise RecordFileError(f"{record}: no {record}.csv or {record}.parquet in {data_dir}")
        frames[record] = read_record_file(path, record)
    return RawRecords(**frames)
