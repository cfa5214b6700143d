"""Render the monitoring report (Jinja2, figures inline): one self-contained HTML file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape

from monitoring import plots
from monitoring.analysis import calibration, drift_table, predictions_over_time
from monitoring.psi import BANDS
from monitoring.served import Served

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html"]))


@dataclass(frozen=True)
class ReportInputs:
    reference: np.ndarray  # training-set feature matrix
    reference_source: str
    served: Served
    window: str
    warnings: list[str]


def render_report(inputs: ReportInputs) -> str:
    served = inputs.served
    drift = drift_table(inputs.reference, served) if len(served.frame) else None
    over_time = predictions_over_time(served)
    cal = calibration(served)
    return _env.get_template("monitor.html").render(
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), inputs=inputs,
        n_served=len(served.frame), versions=sorted(set(served.frame["model_version"])),
        drift=drift, bands=BANDS, over_time=over_time, cal=cal,
        psi_png=plots.psi_bars(drift) if drift is not None else None,
        timeline_png=plots.prediction_timeline(over_time),
        reliability_png=plots.reliability(cal) if cal.n_labelled else None)


def write_report(inputs: ReportInputs, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(inputs))
    return out
