"""`make monitor`: drift, prediction distribution and outcomes of served predictions -> HTML.

This job may import training/ (it rebuilds the training set as reference);
the rest of monitoring/ does not.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from audit import AuditError, AuditStore
from config import get_settings
from monitoring.report import ReportInputs, write_report
from monitoring.served import load_served
from riskmodel.artifact import champion_path


def _reference(data_dir: Path | None) -> tuple[np.ndarray, str, list[str]]:
    """The champion's training data (from its training_info.json) unless a folder is given."""
    from training.dataset import data_hash, load_training_set

    settings = get_settings()
    warnings: list[str] = []
    info: dict = {}
    champion = champion_path(settings.models_dir)
    if champion is not None and (champion / "training_info.json").exists():
        info = json.loads((champion / "training_info.json").read_text())
    folder = data_dir or Path(info.get("data_dir") or settings.data_dir)
    if champion is not None and info.get("data_hash") and data_hash(folder) != info["data_hash"]:
        warnings.append(f"{folder} is not the data model {champion.name} was trained on "
                        "(hash differs): drift is measured against it anyway.")
    training = load_training_set(folder, verbose=False)
    return training.X, f"{len(training.frame)} courses in {folder}", warnings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitoring", description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="reference records (default: the "
                        "champion's training data)")
    parser.add_argument("--days", type=int, default=30, help="recent window (0: everything)")
    parser.add_argument("--out", type=Path, help="default: reports/monitor.html")
    args = parser.parse_args(argv)
    settings = get_settings()
    out = args.out or settings.reports_dir / "monitor.html"
    since = datetime.now(UTC) - timedelta(days=args.days) if args.days > 0 else None
    try:
        with AuditStore(settings.audit_url, read_only=True) as store:
            served = load_served(store, since=since)
    except AuditError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    reference, source, warnings = _reference(args.data_dir)
    window = f"last {args.days} days" if since else "all time"
    write_report(ReportInputs(reference, source, served, window, warnings), out)
    print(f"monitoring report: {out} ({len(served.frame)} served predictions, {window})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
