"""Tamper-evident audit store: HMAC-chained, append-only, with signed checkpoints.

One writer (`AuditStore`) and one verifier (`audit.verify`) serve every chain:
predictions, auditor reads, outcomes and batch jobs. Typical use::

    store = AuditStore()                       # settings: AUDIT_DB_URL, var/keys, ...
    event = PredictionEvent(patient_ref=store.patient_ref(pid), ...)
    store.append(event)                        # raises AuditWriteError -> answer 503
    store.record_access(sub, role, "get_event", event_ids=[event_id])
    store.verify().ok
"""

from audit.archive import export_archive, verify_archive
from audit.canonical import canonical_json
from audit.chain import Checkpoint, KeyRing, Surrogates, rotate_key
from audit.events import (
    JOB_CHAIN,
    AccessEvent,
    EventSummary,
    JobEvent,
    OutcomeEvent,
    PredictionEvent,
    StoredAccess,
    StoredJob,
    StoredOutcome,
    StoredPrediction,
)
from audit.store import AuditError, AuditStore, AuditWriteError
from audit.verify import ChainReport, VerifyReport

__all__ = [
    "JOB_CHAIN",
    "AccessEvent",
    "AuditError",
    "AuditStore",
    "AuditWriteError",
    "ChainReport",
    "Checkpoint",
    "EventSummary",
    "JobEvent",
    "KeyRing",
    "OutcomeEvent",
    "PredictionEvent",
    "StoredAccess",
    "StoredJob",
    "StoredOutcome",
    "StoredPrediction",
    "Surrogates",
    "VerifyReport",
    "canonical_json",
    "export_archive",
    "rotate_key",
    "verify_archive",
]
