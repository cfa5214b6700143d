"""Tamper-evident audit store: HMAC-chained, append-only, with signed checkpoints.

Typical use from the service::

    store = AuditStore()                       # settings: AUDIT_DB_URL, var/keys, ...
    event = PredictionEvent(patient_ref=store.patient_ref(pid), ...)
    store.append(event)                        # raises AuditWriteError -> answer 503
    store.record_access(sub, role, "get_event", event_ids=[event_id])
    store.verify().ok
"""

from serving.audit.chain import Checkpoint, KeyRing, Surrogates, rotate_key
from serving.audit.events import (
    AccessEvent,
    EventSummary,
    OutcomeEvent,
    PredictionEvent,
    StoredAccess,
    StoredOutcome,
    StoredPrediction,
    canonical_json,
)
from serving.audit.store import AuditError, AuditStore, AuditWriteError
from serving.audit.verify import ChainReport, VerifyReport, export_archive, verify_archive

__all__ = [
    "AccessEvent",
    "AuditError",
    "AuditStore",
    "AuditWriteError",
    "ChainReport",
    "Checkpoint",
    "EventSummary",
    "KeyRing",
    "OutcomeEvent",
    "PredictionEvent",
    "StoredAccess",
    "StoredOutcome",
    "StoredPrediction",
    "Surrogates",
    "VerifyReport",
    "canonical_json",
    "export_archive",
    "rotate_key",
    "verify_archive",
]
