"""Where an installation keeps what lives outside the database: keys and checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from audit.checkpoints import CheckpointLog


@dataclass(frozen=True)
class AuditPaths:
    """Everything of an installation that lives outside the database."""

    audit_key_file: Path
    patient_key_file: Path
    checkpoint_dir: Path
    signing_key_file: Path
    verify_key_file: Path

    @classmethod
    def under(cls, root: Path) -> AuditPaths:
        """Everything in one folder, laid out as the defaults lay it out under var/."""
        from config import Settings

        # Explicit Nones: the environment's key locations must not leak into this layout.
        s = Settings(var_dir=root, audit_hmac_key_file=None, patient_key_file=None,
                     audit_checkpoint_dir=None, audit_signing_key_file=None,
                     audit_verify_key_file=None)
        return cls(s.audit_key_path, s.patient_key_path, s.checkpoint_path,
                   s.audit_signing_key_path, s.audit_verify_key_path)

    def existing(self) -> list[Path]:
        """Which of the installation's key files and checkpoint chain exist."""
        files = [self.audit_key_file, self.patient_key_file, self.signing_key_file,
                 self.verify_key_file]
        log = CheckpointLog(self.checkpoint_dir)
        return [p for p in (*files, log.chain_path, log.latest_path) if p.exists()]


def default_paths() -> AuditPaths:
    """Key files and checkpoint folder from the settings (env overrides them there).

    Read afresh, not from the cached settings: key locations must follow the
    environment of the process that opens the store.
    """
    from config import Settings

    settings = Settings()
    return AuditPaths(
        audit_key_file=settings.audit_key_path,
        patient_key_file=settings.patient_key_path,
        checkpoint_dir=settings.checkpoint_path,
        signing_key_file=settings.audit_signing_key_path,
        verify_key_file=settings.audit_verify_key_path,
    )
