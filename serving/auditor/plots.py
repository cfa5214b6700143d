"""SHAP waterfall of one stored prediction as a PNG (matplotlib, no display needed)."""

from __future__ import annotations

import io
import math
import threading

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from audit import StoredPrediction  # noqa: E402
from features.spec import FEATURE_LABELS  # noqa: E402

# pyplot keeps global state; one figure at a time across the server's threads.
_PLOT_LOCK = threading.Lock()
TOP = 10


def _prob(log_odds: float) -> float:
    return 1.0 / (1.0 + math.exp(-log_odds))


def waterfall_png(event: StoredPrediction, top: int = TOP) -> bytes:
    """Base log-odds, the `top` largest contributions, the rest summed, ending at logit(p)."""
    items = sorted(event.shap_values.items(), key=lambda kv: -abs(kv[1]))
    shown, rest = items[:top], items[top:]
    steps = [(FEATURE_LABELS.get(n, n), v) for n, v in shown]
    if rest:
        steps.append((f"{len(rest)} other features", sum(v for _, v in rest)))
    with _PLOT_LOCK:
        fig, ax = plt.subplots(figsize=(8, 0.45 * (len(steps) + 2) + 1.2), dpi=100)
        try:
            level = event.shap_base
            labels = ["base value"]
            ax.barh(0, 0, left=level, color="grey")
            for i, (label, v) in enumerate(steps, 1):
                ax.barh(i, v, left=level, color="#c0392b" if v > 0 else "#2471a3")
                ax.text(level + v, i, f" {v:+.3f}", va="center",
                        ha="left" if v > 0 else "right", fontsize=8)
                level += v
                labels.append(label)
            ax.axvline(event.shap_base, color="grey", lw=0.8, ls=":")
            ax.axvline(level, color="black", lw=0.8)
            ax.set_yticks(range(len(labels)), labels, fontsize=8)
            ax.invert_yaxis()
            ax.set_xlabel("log-odds of relapse within 180 days")
            ax.set_title(f"SHAP waterfall: base {_prob(event.shap_base):.1%} -> "
                         f"prediction {event.probability:.1%}", fontsize=10)
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
        finally:
            plt.close(fig)
    return buf.getvalue()
