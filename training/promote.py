"""`make promote VERSION=n REASON=...` and `make rebaseline VERSION=n REASON=...`.

promote: a person accepts an escalated candidate. Allowed only for a version
whose newest promotion-log entry is an escalation (a refused version was never
exported; a promoted one is already served). Records who (the operating-system
user), when, why and which escalations were accepted, in the promotion log,
in MLflow (tags on the version) and in the audit trail, then makes it champion.

rebaseline: records a new reference version for the non-inferiority gates
(after a change of features, say, when the old reference cannot be scored),
with who and why, in the same three places.
"""

from __future__ import annotations

import argparse
import sys

from config import Settings, get_settings
from riskmodel.artifact import set_champion
from riskmodel.champion import load_champion
from riskmodel.promotion_log import append_promotion, read_promotions
from training.registry import promoter, set_champion_alias


class PromotionError(ValueError):
    pass


def _latest(settings: Settings, version: str) -> dict | None:
    entries = [e for e in read_promotions(settings.models_dir) if str(e.get("version")) == version]
    return entries[-1] if entries else None


def _record_everywhere(settings: Settings, version: str, entry: dict) -> None:
    """Promotion log, MLflow tags on the registered version, and the audit trail."""
    append_promotion(settings.models_dir, entry)
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=settings.tracking_uri)
    for key in ("event", "promoted_by", "reason"):
        client.set_model_version_tag(settings.model_name, version, key, str(entry[key]))
    from audit.store import AuditStore

    with AuditStore(settings.audit_url) as store:
        store.record_access(entry["promoted_by"], "admin", f"{entry['event']} version {version}",
                            filters={"reason": entry["reason"],
                                     "accepted": ", ".join(entry.get("accepted_escalations", []))})


def promote(settings: Settings, version: str, reason: str) -> dict:
    if not reason.strip():
        raise PromotionError("REASON is required: say why the escalations are acceptable")
    last = _latest(settings, version)
    if last is None or last.get("event") != "escalation":
        state = "never trained here" if last is None else last.get("event", "promotion")
        raise PromotionError(f"version {version} is not an escalated candidate ({state}); only "
                             "escalated versions are promoted by hand")
    load_champion(settings.models_dir, version)  # it must load, checksums verified
    accepted = [g["name"] for g in last["gates"] if g.get("status") == "escalate"]
    entry = {**{k: last[k] for k in ("version", "artifact_sha256", "run_id", "gates",
                                     "metrics", "not_assessable") if k in last},
             "event": "promotion", "decision": "promote (by hand)", "promoted_by": promoter(),
             "reason": reason, "accepted_escalations": accepted,
             "previous_champion": (settings.models_dir / "CHAMPION").read_text().strip()
             if (settings.models_dir / "CHAMPION").exists() else None}
    _record_everywhere(settings, version, entry)
    set_champion(settings.models_dir, version)
    set_champion_alias(settings, version)
    return entry


def rebaseline(settings: Settings, version: str, reason: str) -> dict:
    if not reason.strip():
        raise PromotionError("REASON is required: say why the reference changes")
    last = _latest(settings, version)
    if last is None or last.get("event") not in ("promotion", "rebaseline"):
        raise PromotionError(f"version {version} was never promoted; a reference must be a "
                             "version that was served")
    load_champion(settings.models_dir, version)  # it must load and verify to be a reference
    entry = {"version": version, "event": "rebaseline", "promoted_by": promoter(),
             "reason": reason, "artifact_sha256": last.get("artifact_sha256")}
    _record_everywhere(settings, version, entry)
    return entry


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("action", choices=("promote", "rebaseline"))
    ap.add_argument("--version", required=True)
    ap.add_argument("--reason", required=True)
    args = ap.parse_args(argv)
    settings = get_settings()
    try:
        entry = (promote if args.action == "promote" else rebaseline)(
            settings, args.version, args.reason)
    except PromotionError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    print(f"{entry['event']}: version {args.version} by {entry['promoted_by']}: {args.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
