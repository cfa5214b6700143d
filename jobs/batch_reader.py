"""Read a record folder once and hand it out in chunks of whole courses.

Validation needs a course's intake row and all its sessions together, and
sessions need not be sorted by course, so the files are read once with
pyarrow (compact columnar strings, much smaller than pandas objects), every
row is assigned to the chunk of its course, and each chunk is turned into
the same `RawRecords` frames `features.records` produces (text columns,
1-based source row numbers as the index), so `features.validation` runs
unchanged per chunk. Rows whose course cannot be placed (no or unknown
course_id) go to the first chunk, where validation quarantines them.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.records import RawRecords, RecordFileError, find_record_file

SCORED_RECORDS = ("intake", "sessions")  # outcomes are never read for scoring


@dataclass(frozen=True)
class InputFiles:
    """The intake and sessions files of a folder, their joint sha256 and row counts."""

    paths: dict[str, Path]
    sha256: str
    rows: dict[str, int]


def input_sha256(paths: dict[str, Path]) -> str:
    """sha256 over file names and bytes, streamed (the job event names exactly what was read)."""
    digest = hashlib.sha256()
    for record in SCORED_RECORDS:
        path = paths[record]
        digest.update(path.name.encode())
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _read_table(path: Path, record: str) -> pa.Table:
    try:
        if path.suffix == ".parquet":
            return pq.read_table(path)
        with path.open(newline="") as fh:
            names = next(csv.reader(fh), [])
        # Text only, empty = unknown, as features.records reads CSV: parsing is validation's job.
        convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                       strings_can_be_null=True, null_values=[""])
        return pacsv.read_csv(path, convert_options=convert)
    except (OSError, pa.ArrowInvalid) as exc:
        raise RecordFileError(f"{record}: cannot read {path.name}: {type(exc).__name__}") from exc


def _course_keys(table: pa.Table) -> pa.Array:
    ids = table.column("course_id").combine_chunks()
    if not pa.types.is_string(ids.type) and not pa.types.is_large_string(ids.type):
        ids = pc.cast(ids, pa.string())
    # validation strips text fields, so " C1" and "C1" are one course
    return pc.utf8_trim_whitespace(ids)


def _codes(indices: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _to_frame(table: pa.Table, rows: np.ndarray) -> pd.DataFrame:
    frame = table.take(pa.array(rows)).to_pandas()
    frame.index = pd.Index(rows + 1, name="source_row")
    return frame


class ChunkedRecords:
    """A record folder split into chunks of at most `chunk_courses` courses."""

    def __init__(self, data_dir: Path, chunk_courses: int = 20_000) -> None:
        data_dir = Path(data_dir)
        if not data_dir.is_dir():
            raise RecordFileError(f"data folder {data_dir} does not exist")
        paths = {}
        for record in SCORED_RECORDS:
            path = find_record_file(data_dir, record)
            if path is None:
                raise RecordFileError(f"{record}: no {record}.csv or {record}.parquet in {data_dir}")
            paths[record] = path
        self.tables = {r: _read_table(p, r) for r, p in paths.items()}
        for record, table in self.tables.items():
            if "course_id" not in table.column_names:
                raise RecordFileError(f"{record}: {paths[record].name} lacks column course_id")
        self.files = InputFiles(paths, input_sha256(paths),
                                {r: t.num_rows for r, t in self.tables.items()})
        self.chunk_courses = max(1, int(chunk_courses))
        # Course numbers in order of first appearance in intake (no id: -1), in arrow: a Python
        # object per id cost more than reading the files.
        courses = pc.dictionary_encode(_course_keys(self.tables["intake"]))
        codes = _codes(courses.indices)
        self.n_courses = len(courses.dictionary)
        session_codes = _codes(pc.index_in(_course_keys(self.tables["sessions"]),
                                           value_set=courses.dictionary))
        self.n_chunks = max(1, -(-self.n_courses // self.chunk_courses))
        self._rows = {"intake": self._split(codes), "sessions": self._split(session_codes)}

    def _split(self, codes: np.ndarray) -> list[np.ndarray]:
        chunk = np.where(codes < 0, 0, codes // self.chunk_courses)
        order = np.argsort(chunk, kind="stable")  # source order within a chunk
        bounds = np.searchsorted(chunk[order], np.arange(1, self.n_chunks))
        return np.split(order, bounds)

    def courses_in(self, k: int) -> int:
        return int(min(self.chunk_courses, self.n_courses - k * self.chunk_courses))

    def __len__(self) -> int:
        return self.n_chunks

    def __iter__(self) -> Iterator[RawRecords]:
        for k in range(self.n_chunks):
            yield self.chunk(k)

    def chunk(self, k: int) -> RawRecords:
        return RawRecords(intake=_to_frame(self.tables["intake"], self._rows["intake"][k]),
                          sessions=_to_frame(self.tables["sessions"], self._rows["sessions"][k]),
                          outcomes=None)
