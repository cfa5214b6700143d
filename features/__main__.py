"""`python -m features validate DATA_DIR`: check files against the contract.

Prints rows in / accepted / quarantined per file and the reasons (field
names, never values); writes the quarantined rows with their reasons.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from features.records import RecordFileError, read_records
from features.validation import validate_records


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m features", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="validate a data folder")
    v.add_argument("data_dir", type=Path)
    v.add_argument("--quarantine-dir", type=Path, default=Path("var/quarantine"))
    args = ap.parse_args(argv)
    try:
        validated = validate_records(read_records(args.data_dir, require_outcomes=False))
    except RecordFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    paths = validated.write_quarantine(args.quarantine_dir)
    print(validated.summary().to_string(index=False))
    reasons = validated.reason_counts()
    if len(reasons):
        print("\nquarantine reasons:\n" + reasons.to_string(index=False))
    print(f"\nquarantined rows: {', '.join(str(p) for p in paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
