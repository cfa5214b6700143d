"""Tamper-evident audit store: HMAC-chained, append-only, with a signed checkpoint chain.

One writer (`AuditStore`) and one verifier (`audit.verify`) serve every chain:
predictions, auditor reads, outcomes and batch jobs. Typical use::

    init_if_fresh(url)                         # make audit-init (never the service)
    store = AuditStore()                       # settings: AUDIT_DB_URL, var/keys, ...
    event = PredictionEvent(patient_ref=store.patient_ref(pid), ...)
    store.append(event)                        # raises AuditWriteError -> answer 503
    store.record_access(sub, role, "get_event", event_ids=[event_id])
    store.verify().ok
"""

from audit.archive import export_archive, verify_archive
from audit.canonical import canonical_json
from audit.chain import KeyRing, Surrogates, rotate_key
from audit.checkpoints import Record
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
from audit.installation import init_if_fresh, init_installation
from audit.prediction_rows import PredictionColumns
from audit.store import AuditError, AuditStore, AuditWriteError, WriterBusy
from audit.verify import ChainReport, VerifyReport

__all__ = [
    "JOB_CHAIN",
    "AccessEvent",
    "AuditError",
    "AuditStore",
    "AuditWriteError",
    "ChainReport",
    "EventSummary",
    "JobEvent",
    "KeyRing",
    "OutcomeEvent",
    "PredictionColumns",
    "PredictionEvent",
    "Record",
    "StoredAccess",
    "StoredJob",
    "StoredOutcome",
    "StoredPrediction",
    "Surrogates",
    "VerifyReport",
    "WriterBusy",
    "canonical_json",
    "export_archive",
    "init_if_fresh",
    "init_installation",
    "rotate_key",
    "verify_archive",
]
