"""Report figures as inline PNG data URIs (one self-contained HTML file)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from monitoring.analysis import Calibration  # noqa: E402


def _data_uri(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def psi_bars(drift: pd.DataFrame, top: int = 20) -> str:
    d = drift.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(d) + 1))
    colors = ["#c0392b" if b == "major" else "#e67e22" if b == "moderate" else "#7cb342"
              for b in d["band"]]
    ax.barh(d["label"], d["psi"], color=colors)
    for x in (0.1, 0.25):
        ax.axvline(x, color="grey", ls=":", lw=1)
    ax.set_xlabel("PSI (training set vs served requests)")
    ax.tick_params(axis="y", labelsize=7)
    return _data_uri(fig)


def prediction_timeline(over_time: pd.DataFrame) -> str:
    fig, ax = plt.subplots(figsize=(8, 3))
    if not over_time.empty:
        x = over_time["period"]
        ax.fill_between(x, over_time["p25"], over_time["p75"], alpha=0.3, label="25-75%")
        ax.plot(x, over_time["p50"], marker="o", label="median")
        ax.plot(x, over_time["mean"], ls="--", label="mean")
        ax.legend(fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("predicted relapse probability")
    fig.autofmt_xdate()
    return _data_uri(fig)


def reliability(cal: Calibration) -> str:
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", ls=":")
    if not cal.table.empty:
        ax.plot(cal.table["predicted"], cal.table["observed"], marker="o")
    ax.set_xlabel("mean predicted")
    ax.set_ylabel("observed relapse rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    return _data_uri(fig)
