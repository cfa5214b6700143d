"""Export and load of one promoted model version under models/<version>/.

The manifest holds the sha256 of every file; loading recomputes them and
refuses an artifact that differs, so a served score always comes from the
bytes that passed the promotion gates.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import xgboost as xgb

from features.spec import FEATURE_NAMES, feature_spec
from riskmodel.calibration import PlattCalibrator

BOOSTER_FILE = "model.ubj"
MANIFEST_FILE = "manifest.json"
CHAMPION_POINTER = "CHAMPION"


class ArtifactError(RuntimeError):
    """The artifact is missing, altered or incompatible with this code."""


RiskBand = Literal["low", "moderate", "high"]


@dataclass(frozen=True)
class RiskBands:
    """low < moderate_from <= moderate < high_from <= high."""

    moderate_from: float
    high_from: float

    def of(self, probability: np.ndarray) -> np.ndarray:
        """The band of each probability (an object array of names); NaN falls in "low"."""
        p = np.asarray(probability, dtype=np.float64)
        return np.where(p >= self.high_from, "high",
                        np.where(p >= self.moderate_from, "moderate", "low")).astype(object)


@dataclass(frozen=True)
class Artifact:
    path: Path
    name: str
    version: str
    sha256: str
    booster: xgb.Booster
    calibrator: PlattCalibrator
    bands: RiskBands
    training_ranges: dict[str, list[float | None]]
    metrics: dict
    model_card: str


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _artifact_hash(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def _dump(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def export_artifact(out_dir: Path, *, name: str, version: str, booster: xgb.Booster,
                    calibrator: PlattCalibrator, bands: RiskBands,
                    training_ranges: dict[str, list[float | None]], metrics: dict,
                    model_card: str, extra: dict | None = None,
                    extra_files: dict[str, str] | None = None) -> str:
    """Write every file and the manifest; returns the artifact sha256.

    `extra_files`: file name -> text, written beside the model and hashed like the rest.
    """
    out_dir.mkdir(parents=True, exist_ok=False)
    booster.save_model(out_dir / BOOSTER_FILE)
    _dump(out_dir / "feature_spec.json", feature_spec())
    _dump(out_dir / "calibrator.json", calibrator.to_dict())
    _dump(out_dir / "risk_bands.json", {"moderate_from": bands.moderate_from,
                                       "high_from": bands.high_from})
    _dump(out_dir / "training_ranges.json", training_ranges)
    _dump(out_dir / "metrics.json", metrics)
    (out_dir / "model_card.md").write_text(model_card)
    if extra:
        _dump(out_dir / "training_info.json", extra)
    for fname, text in (extra_files or {}).items():
        if Path(fname).name != fname or fname == MANIFEST_FILE:
            raise ValueError(f"extra file name must be a plain file name: {fname!r}")
        (out_dir / fname).write_text(text)
    files = {p.name: sha256_file(p) for p in sorted(out_dir.iterdir()) if p.name != MANIFEST_FILE}
    sha = _artifact_hash(files)
    _dump(out_dir / MANIFEST_FILE, {"name": name, "version": version, "files": files,
                                    "artifact_sha256": sha})
    return sha


def verify_manifest(path: Path) -> dict:
    """Recompute every file's sha256; raise ArtifactError on any difference."""
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.exists():
        raise ArtifactError(f"no manifest in {path}")
    manifest = json.loads(manifest_path.read_text())
    files = manifest["files"]
    on_disk = {p.name for p in path.iterdir() if p.name != MANIFEST_FILE}
    if on_disk != set(files):
        raise ArtifactError(f"artifact {path.name}: files differ from the manifest")
    for fname, expected in files.items():
        if sha256_file(path / fname) != expected:
            raise ArtifactError(f"artifact {path.name}: checksum mismatch in {fname}")
    if _artifact_hash(files) != manifest["artifact_sha256"]:
        raise ArtifactError(f"artifact {path.name}: manifest hash mismatch")
    return manifest


def load_artifact(path: Path) -> Artifact:
    """Load a verified artifact; refuses altered files and another feature spec."""
    manifest = verify_manifest(path)
    spec = json.loads((path / "feature_spec.json").read_text())
    names = tuple(f["name"] for f in spec["features"])
    if names != FEATURE_NAMES:
        raise ArtifactError(f"artifact {path.name}: feature spec differs from this code")
    booster = xgb.Booster()
    booster.load_model(path / BOOSTER_FILE)
    bands = json.loads((path / "risk_bands.json").read_text())
    return Artifact(
        path=path, name=manifest["name"], version=str(manifest["version"]),
        sha256=manifest["artifact_sha256"], booster=booster,
        calibrator=PlattCalibrator.from_dict(json.loads((path / "calibrator.json").read_text())),
        bands=RiskBands(**bands),
        training_ranges=json.loads((path / "training_ranges.json").read_text()),
        metrics=json.loads((path / "metrics.json").read_text()),
        model_card=(path / "model_card.md").read_text(),
    )


def champion_path(models_dir: Path) -> Path | None:
    """The exported directory of the current champion, from the pointer promotion writes."""
    pointer = models_dir / CHAMPION_POINTER
    if not pointer.exists():
        return None
    return models_dir / pointer.read_text().strip()


def set_champion(models_dir: Path, version: str) -> None:
    tmp = models_dir / (CHAMPION_POINTER + ".tmp")
    tmp.write_text(version + "\n")
    tmp.replace(models_dir / CHAMPION_POINTER)
