"""Registry history for auditors: each exported version's metrics, card and checksum state.

Reads only files under models/ (the export of every promoted version); MLflow
run ids are shown from the log, and MLflow itself is queried only if asked
and installed, so the pages work without the tracking store.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskmodel.artifact import ArtifactError, champion_path, verify_manifest

log = logging.getLogger(__name__)


@dataclass
class VersionInfo:
    version: str
    sha256: str | None
    checksum_ok: bool
    metrics: dict[str, Any] = field(default_factory=dict)
    model_card: str = ""
    training_info: dict[str, Any] = field(default_factory=dict)
    champion: bool = False


def _version_key(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (10**9, name)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def version_info(models_dir: Path, version: str) -> VersionInfo | None:
    path = models_dir / version
    if not (path / "manifest.json").exists():
        return None
    try:
        sha, ok = verify_manifest(path)["artifact_sha256"], True
    except (ArtifactError, KeyError, ValueError):
        sha, ok = _read_json(path / "manifest.json").get("artifact_sha256"), False
    card = path / "model_card.md"
    champion = champion_path(models_dir)
    return VersionInfo(version=version, sha256=sha, checksum_ok=ok,
                       metrics=_read_json(path / "metrics.json"),
                       model_card=card.read_text() if card.exists() else "",
                       training_info=_read_json(path / "training_info.json"),
                       champion=champion is not None and champion.name == version)


def exported_versions(models_dir: Path) -> list[VersionInfo]:
    """Every exported version, newest first."""
    if not models_dir.is_dir():
        return []
    names = sorted((p.name for p in models_dir.iterdir() if (p / "manifest.json").exists()),
                   key=_version_key, reverse=True)
    return [info for name in names if (info := version_info(models_dir, name)) is not None]
