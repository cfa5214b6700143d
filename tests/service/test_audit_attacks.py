"""Every attack on the audit trail that issue 14 names, played against each chain it can hit.

The attacker may write the database (plain SQL, triggers dropped) but holds
neither the checkpoint location nor the signing key. Each test runs
`python -m audit verify` (what `make audit-verify` runs) and requires a
non-zero exit whose output names the chain and what happened to it.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from audit import (
    AuditError,
    AuditStore,
    JobEvent,
    OutcomeEvent,
    init_if_fresh,
    init_installation,
)
from audit.__main__ import main as audit_cli
from audit.chain import KeyRing, hmac_hex
from audit.events import (
    ACCESS_CHAIN,
    JOB_CHAIN,
    OUTCOME_CHAIN,
    PREDICTION_CHAIN,
    AccessEvent,
    ChainName,
    chain_message_text,
    content_text,
    row_from_event,
)
from audit.installation import acknowledge_restore, rotate_audit_key
from audit.paths import AuditPaths
from audit.tables import TABLES
from tests.audit_setup import installed
from tests.service.test_audit_store import event as prediction_event

CHAINS: list[ChainName] = [PREDICTION_CHAIN, ACCESS_CHAIN, OUTCOME_CHAIN, JOB_CHAIN]
NO_DELETE = {PREDICTION_CHAIN: "audit_events_no_delete", ACCESS_CHAIN: "audit_access_no_delete",
             OUTCOME_CHAIN: "audit_outcomes_no_delete", JOB_CHAIN: "audit_jobs_no_delete"}


def add(store: AuditStore, chain: ChainName, i: int) -> None:
    """One genuine event on `chain`."""
    if chain == PREDICTION_CHAIN:
        store.append(prediction_event(store, i))
    elif chain == ACCESS_CHAIN:
        store.record_access("auditor-1", "auditor", "list_events", filters={"page": i})
    elif chain == OUTCOME_CHAIN:
        store.record_outcome(OutcomeEvent(caller_sub="dr-a", caller_role="clinician",
                                          course_ref=store.course_ref(f"C{i}"),
                                          outcome="no_relapse", followup_end_date="2026-01-01"))
    else:
        store.record_job(JobEvent(job_id=f"job-{i}", caller_sub="batch", caller_role="job",
                                  details={"rows": i}))


def forged_event(store: AuditStore, chain: ChainName, i: int) -> object:
    if chain == PREDICTION_CHAIN:
        return prediction_event(store, 900 + i)
    if chain == ACCESS_CHAIN:
        return AccessEvent(caller_sub="x", caller_role="auditor", action="forged")
    if chain == OUTCOME_CHAIN:
        return OutcomeEvent(caller_sub="x", caller_role="clinician", outcome="relapsed",
                            course_ref=store.course_ref("C9"), followup_end_date="2026-01-01")
    return JobEvent(job_id=f"forged-{i}", caller_sub="x", caller_role="job", details={})


class Attack:
    """A writable installation, and the attacker's and the verifier's moves on it."""

    def __init__(self, root: Path, url: str) -> None:
        self.root, self.url = root, url
        self.db = Path(url.removeprefix("sqlite:///"))

    def filled(self, chains: list[ChainName], n: int = 3, start: int = 0) -> None:
        """n events on each chain, then the store closes: its last checkpoint is on record."""
        with AuditStore(self.url) as store:
            for chain in chains:
                for i in range(start, start + n):
                    add(store, chain, i)

    def sql(self, *statements: str) -> None:
        con = sqlite3.connect(self.db)
        try:
            for s in statements:
                con.execute(s)
            con.commit()
        finally:
            con.close()

    def verify(self, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        code = audit_cli(["verify", "--url", self.url])
        captured = capsys.readouterr()
        return code, captured.out + captured.err


@pytest.fixture
def attack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Attack:
    return Attack(tmp_path, installed(monkeypatch, tmp_path))


@pytest.mark.parametrize("chain", CHAINS)
def test_newest_event_deleted(attack: Attack, chain: ChainName, capsys) -> None:
    attack.filled([chain])
    assert attack.verify(capsys)[0] == 0
    table = TABLES[chain].name
    attack.sql(f"DROP TRIGGER {NO_DELETE[chain]}",
               f"DELETE FROM {table} WHERE seq = (SELECT max(seq) FROM {table})")
    code, out = attack.verify(capsys)
    assert code == 1 and f"chain {chain} truncated" in out and "ends at seq 2" in out, out


@pytest.mark.parametrize("chain", CHAINS)
def test_all_events_deleted(attack: Attack, chain: ChainName, capsys) -> None:
    attack.filled([chain])
    attack.sql(f"DROP TRIGGER {NO_DELETE[chain]}", f"DELETE FROM {TABLES[chain].name}")
    code, out = attack.verify(capsys)
    assert code == 1 and f"chain {chain} truncated" in out and "ends at seq 0" in out, out


@pytest.mark.parametrize("chain", CHAINS)
def test_trigger_dropped(attack: Attack, chain: ChainName, capsys) -> None:
    attack.filled([chain])
    attack.sql(f"DROP TRIGGER {NO_DELETE[chain]}")
    code, out = attack.verify(capsys)
    assert code == 1 and f"append-only trigger {NO_DELETE[chain]} missing" in out, out


def test_store_emptied(attack: Attack, capsys) -> None:
    attack.filled(CHAINS)
    attack.sql(*(f"DROP TRIGGER {t}" for t in NO_DELETE.values()),
               *(f"DELETE FROM {t.name}" for t in TABLES.values()))
    code, out = attack.verify(capsys)
    assert code == 1 and all(f"chain {c} truncated" in out for c in CHAINS), out


def test_store_replaced(attack: Attack, tmp_path: Path, capsys) -> None:
    attack.filled(CHAINS)
    other = tmp_path / "elsewhere"  # a store made by someone with their own keys
    init_installation(f"sqlite:///{other / 'audit.db'}", AuditPaths.under(other))
    shutil.copy(other / "audit.db", attack.db)
    for suffix in ("-wal", "-shm"):
        Path(f"{attack.db}{suffix}").unlink(missing_ok=True)
    code, out = attack.verify(capsys)
    assert code == 1 and "store replaced or re-created" in out, out
    with pytest.raises(AuditError, match="replaced or re-created"):
        AuditStore(attack.url)  # the service refuses to write into it


def test_store_recreated_by_make_serve_is_refused(attack: Attack, capsys) -> None:
    """Issue 14's first finding: move the database aside, `make serve` again."""
    attack.filled(CHAINS)
    for path in attack.root.glob("audit.db*"):
        path.rename(path.with_name(path.name + ".aside"))
    with pytest.raises(AuditError, match="missing"):
        init_if_fresh(attack.url)  # what make serve runs first: nothing is created
    assert not attack.db.exists()
    with pytest.raises(AuditError, match="no audit database"):
        AuditStore(attack.url)  # the service does not start
    code, out = attack.verify(capsys)
    assert code != 0 and "FAILED" in out and "no audit database" in out, out


def test_checkpoint_file_deleted(attack: Attack, capsys) -> None:
    attack.filled(CHAINS)
    (attack.root / "checkpoints" / "chain.jsonl").unlink()
    code, out = attack.verify(capsys)
    assert code == 1 and "no checkpoint chain" in out, out
    (attack.root / "checkpoints" / "latest.json").unlink()
    code, out = attack.verify(capsys)
    assert code == 1 and "no checkpoint chain" in out, out


def test_checkpoint_file_truncated(attack: Attack, capsys) -> None:
    attack.filled(CHAINS)
    path = attack.root / "checkpoints" / "chain.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))  # the newest record cut off
    code, out = attack.verify(capsys)
    assert code == 1 and "checkpoint file" in out and "truncated" in out, out
    path.write_text("".join(lines)[:-40])  # cut mid-record
    code, out = attack.verify(capsys)
    assert code == 1 and "unreadable" in out, out


@pytest.mark.parametrize("chain", CHAINS)
def test_retired_key_used(attack: Attack, chain: ChainName, capsys) -> None:
    attack.filled([chain])
    old = KeyRing.load(attack.root / "keys" / "audit-hmac.key")  # the attacker stole it
    rotate_audit_key(attack.url, by="ops")
    assert attack.verify(capsys)[0] == 0
    with AuditStore(attack.url, background_checkpoints=False) as store:
        seq, prev = store.head(chain)
        row = row_from_event(chain, forged_event(store, chain, 1))  # type: ignore[arg-type]
        digest = hmac_hex(old.current, chain_message_text(
            chain, seq + 1, old.current_id, prev, content_text(chain, row)))
        with store.engine.begin() as conn:  # plain INSERT: the triggers allow it
            conn.execute(TABLES[chain].insert(), [{**row, "seq": seq + 1, "prev_hash": prev,
                                                   "key_id": old.current_id, "hash": digest}])
    code, out = attack.verify(capsys)
    assert code == 1 and f"BROKEN at seq {seq + 1}" in out and "after its retirement" in out, out


@pytest.mark.parametrize("chain", CHAINS)
def test_restore_acknowledged(attack: Attack, chain: ChainName, capsys) -> None:
    attack.filled([chain], n=2)
    backup = attack.root / "backup.db"
    src, dst = sqlite3.connect(attack.db), sqlite3.connect(backup)
    src.backup(dst)
    src.close()
    dst.close()  # closing folds its WAL into the file: the file alone is the backup
    attack.filled([chain], n=2, start=10)  # events after the backup
    shutil.copy(backup, attack.db)  # disaster, then restore from backup
    for suffix in ("-wal", "-shm"):
        Path(f"{attack.db}{suffix}").unlink(missing_ok=True)
    code, out = attack.verify(capsys)
    assert code == 1 and f"chain {chain} truncated" in out, out
    acknowledge_restore(attack.url, by="ops", reason="INC-1")
    code, out = attack.verify(capsys)
    assert code == 0 and "restore acknowledged" in out and "after seq 2 were lost" in out, out
    attack.filled([chain], n=1, start=20)
    assert attack.verify(capsys)[0] == 0
    table = TABLES[chain].name  # the restore forgives only what it names
    attack.sql(f"DROP TRIGGER {NO_DELETE[chain]}",
               f"DELETE FROM {table} WHERE seq = (SELECT max(seq) FROM {table})")
    code, out = attack.verify(capsys)
    assert code == 1 and f"chain {chain} truncated" in out, out


def test_missing_keys_stop_the_writer_and_are_never_recreated(attack: Attack) -> None:
    for name in ("audit-hmac.key", "patient.key", "checkpoint-signing.key"):
        key = attack.root / "keys" / name
        key.rename(key.with_suffix(".aside"))
        with pytest.raises(AuditError, match=f"{name} is missing"):
            AuditStore(attack.url)
        with pytest.raises(AuditError, match="missing"):
            init_if_fresh(attack.url)
        assert not key.exists()
        key.with_suffix(".aside").rename(key)


def test_background_checkpoint_within_a_second_and_never_when_unchanged(attack: Attack) -> None:
    log = attack.root / "checkpoints" / "chain.jsonl"
    with AuditStore(attack.url) as store:
        before = len(log.read_text().splitlines())
        add(store, OUTCOME_CHAIN, 1)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and store.checkpoints.latest().heads[  # type: ignore[union-attr]
                OUTCOME_CHAIN][0] != 1:
            time.sleep(0.02)
        assert store.checkpoints.latest().heads[OUTCOME_CHAIN][0] == 1  # type: ignore[union-attr]
        time.sleep(0.4)
        assert store.checkpoint() is None  # heads unchanged: no record
    assert len(log.read_text().splitlines()) == before + 1  # not even at close


def test_writer_alarms_when_its_checkpoint_vanished(attack: Attack) -> None:
    from serving.auditor.workspace import Workspace

    with AuditStore(attack.url, background_checkpoints=False) as store:
        add(store, PREDICTION_CHAIN, 1)
        assert store.checkpoint() is not None
        log = attack.root / "checkpoints" / "chain.jsonl"
        log.write_text("".join(log.read_text().splitlines(keepends=True)[:-1]))
        add(store, PREDICTION_CHAIN, 2)
        assert store.checkpoint() is None and "gone" in (store.checkpoint_alarm or "")
        status = Workspace(lambda: store).chain_status(fresh=True)
        assert not status.ok and "CHAIN CHECK FAILED" in status.summary
