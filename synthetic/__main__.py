"""CLI: python -m synthetic --n 20000 --seed 7 --out data/raw [--format csv|parquet].

Writes intake, sessions and outcomes into --out, and the truth into
<out>/oracle/ (oracle.csv, injected_errors.csv, generator.json: the effects
and options used), which no pipeline step may read except evaluation against
the truth.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from synthetic.cohort import Cohort, generate
from synthetic.effects import DISPARITY_DEFAULT_GROUP, Effects
from synthetic.followup import RELAPSE_TIME_FAMILIES


def write_table(df: pd.DataFrame, path: Path, fmt: str) -> Path:
    """CSV (empty = unknown, booleans true/false) or Parquet; pyarrow for speed at 1M courses."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    path = path.with_suffix(f".{fmt}")
    if fmt == "parquet":
        pq.write_table(table, path)
    else:
        pa_csv.write_csv(table, path, pa_csv.WriteOptions(quoting_style="needed"))
    return path


def write_cohort(cohort: Cohort, out: Path, fmt: str = "csv") -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "oracle").mkdir(exist_ok=True)
    for stale in ("intake", "sessions", "outcomes"):  # never leave the other format behind
        (out / f"{stale}.{'csv' if fmt == 'parquet' else 'parquet'}").unlink(missing_ok=True)
    return [
        write_table(cohort.intake, out / "intake", fmt),
        write_table(cohort.sessions, out / "sessions", fmt),
        write_table(cohort.outcomes, out / "outcomes", fmt),
        write_table(cohort.oracle, out / "oracle" / "oracle", "csv"),
        write_table(cohort.injected_errors, out / "oracle" / "injected_errors", "csv"),
        _write_generator_json(cohort, out / "oracle" / "generator.json"),
    ]


def _write_generator_json(cohort: Cohort, path: Path) -> Path:
    path.write_text(json.dumps({"effects": cohort.effects.to_dict(),
                                "relapse_time": cohort.relapse_time}, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthetic", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="number of courses")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("data/raw"))
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--effects", type=Path, default=None,
                        help="TOML file overriding effect sizes (synthetic/effects.py)")
    parser.add_argument("--scenario", choices=("default", "disparity"), default="default",
                        help=f"disparity: {DISPARITY_DEFAULT_GROUP!r} courses carry an "
                             "unrecorded log-odds shift (effects.disparity_log_or)")
    parser.add_argument("--relapse-time", choices=RELAPSE_TIME_FAMILIES, default="weibull")
    args = parser.parse_args(argv)
    try:
        effects = Effects.from_toml(args.effects) if args.effects else Effects()
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    if args.scenario == "disparity" and not effects.disparity_group:
        effects = effects.with_disparity(DISPARITY_DEFAULT_GROUP)

    t0 = time.perf_counter()
    cohort = generate(args.n, args.seed, effects, args.relapse_time)
    t1 = time.perf_counter()
    paths = write_cohort(cohort, args.out, args.format)
    t2 = time.perf_counter()
    s = cohort.summary()
    print(f"synthetic cohort: n={args.n} seed={args.seed} -> {args.out} "
          f"(generated {t1 - t0:.1f} s, written {t2 - t1:.1f} s)")
    print(f"  rows: intake {s['intake_rows']:,}  sessions {s['session_rows']:,}  "
          f"outcomes {s['outcome_rows']:,}  patients {s['patients']:,}")
    print(f"  true relapse rate within 180 d {s['true_relapse_rate_180d']:.3f}  "
          f"censored before 180 d {s['censoring_rate']:.3f}  "
          f"observed relapse rate (labelled) {s['observed_relapse_rate_labelled']:.3f}")
    print(f"  oracle AUROC {s['oracle_auroc']:.3f}  injected bad rows {s['injected_errors']:,}")
    print("  files: " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
