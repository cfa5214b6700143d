"""Optional parts of an exported version: time-to-relapse curve and prediction intervals.

`attach_extras` writes them into an exported directory and rewrites its manifest, so
they are checksum-verified like every other file (`load_artifact` / `verify_manifest`).
`load_extras` returns what a version has; versions exported before these existed have
neither, and serving then omits `relapse_risk_curve` / `interval`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from riskmodel.artifact import (
    MANIFEST_FILE,
    _artifact_hash,
    _dump,
    sha256_file,
    verify_manifest,
)
from riskmodel.ensemble import BootstrapEnsemble
from riskmodel.survival import SurvivalModel


@dataclass(frozen=True)
class Extras:
    survival: SurvivalModel | None
    ensemble: BootstrapEnsemble | None


def attach_extras(path: Path, *, survival: SurvivalModel | None,
                  ensemble: BootstrapEnsemble | None) -> str:
    """Add the files to a verified export, re-hash every file; returns the new artifact sha256."""
    manifest = verify_manifest(path)  # never re-sign files that were already altered
    if survival is not None:
        survival.save(path)
    if ensemble is not None:
        ensemble.save(path)
    files = {p.name: sha256_file(p) for p in sorted(path.iterdir()) if p.name != MANIFEST_FILE}
    sha = _artifact_hash(files)
    _dump(path / MANIFEST_FILE, {"name": manifest["name"], "version": manifest["version"],
                                 "files": files, "artifact_sha256": sha})
    return sha


def load_extras(path: Path) -> Extras:
    """Load after `load_artifact(path)` has verified the manifest."""
    return Extras(SurvivalModel.load(path) if SurvivalModel.exists(path) else None,
                  BootstrapEnsemble.load(path) if BootstrapEnsemble.exists(path) else None)
