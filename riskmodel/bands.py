"""What each risk band means: the decision its cut point stands for, and what was observed.

Saved with each version as `band_meaning.json` (checksummed like every file): per band its
meaning, and the IPCW-weighted relapse rate within 180 days observed in that band on the
version's test part with a 95 % patient-bootstrap interval. Versions exported before it have
no such file; serving then omits `band_observed`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

BAND_MEANING_FILE = "band_meaning.json"


@dataclass(frozen=True)
class BandFacts:
    meaning: str
    observed_rate: float  # IPCW-weighted relapse rate within 180 days, test part
    low: float
    high: float
    n_courses: int
    share_of_relapses: float  # of the test part's IPCW-weighted relapses


def save_band_facts(facts: dict[str, BandFacts], harm_benefit: dict[str, str]) -> str:
    return json.dumps({"bands": {k: vars(v) for k, v in facts.items()},
                       "harm_benefit": harm_benefit, "level": 0.95}, indent=2) + "\n"


def load_band_facts(path: Path) -> dict[str, BandFacts] | None:
    file = path / BAND_MEANING_FILE
    if not file.exists():
        return None
    return {k: BandFacts(**v) for k, v in json.loads(file.read_text())["bands"].items()}
