"""One frozen settings object for every job and the service.

Values come from the environment (upper-case names); relative paths are
resolved against the project root so every make target, test and the service
find the same stores whatever the current directory.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _absolute(path: Path) -> Path:
    return path if path.is_absolute() else (PROJECT_ROOT / path)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_prefix="")

    data_dir: Path = Field(Path("data/raw"), description="Folder with intake, sessions, outcomes")
    models_dir: Path = Field(Path("models"), description="Exported model versions")
    var_dir: Path = Field(Path("var"), description="Local state: keys, audit db, checkpoints")
    reports_dir: Path = Field(Path("reports"), description="Evaluation and benchmark reports")
    mlflow_tracking_uri: str = Field("", description="MLflow store; default SQLite under var/")
    model_name: str = "relapse-risk"
    model_alias: str = "champion"
    audit_db_url: str = Field("", description="Audit store; default SQLite under var/")
    audit_hmac_key_file: Path | None = Field(
        None, description="Audit chain HMAC key, outside the database (default var/keys/)")
    patient_key_file: Path | None = Field(
        None, description="Patient-surrogate HMAC key (default var/keys/)")
    audit_checkpoint_dir: Path | None = Field(
        None, description="Signed head checkpoints, outside the database (default var/)")
    audit_checkpoint_every: int = Field(100, ge=1, description="Events between checkpoints")
    seed: int = 7

    @field_validator("data_dir", "models_dir", "var_dir", "reports_dir", "audit_hmac_key_file",
                     "patient_key_file", "audit_checkpoint_dir")
    @classmethod
    def _resolve(cls, v: Path | None) -> Path | None:
        return None if v is None else _absolute(v)

    @property
    def audit_key_path(self) -> Path:
        return self.audit_hmac_key_file or self.var_dir / "keys" / "audit-hmac.key"

    @property
    def patient_key_path(self) -> Path:
        return self.patient_key_file or self.var_dir / "keys" / "patient-surrogate.key"

    @property
    def checkpoint_path(self) -> Path:
        return self.audit_checkpoint_dir or self.var_dir / "audit-checkpoints"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.var_dir / 'mlflow.db'}"

    @property
    def mlflow_artifact_root(self) -> Path:
        return self.var_dir / "mlartifacts"

    @property
    def audit_url(self) -> str:
        return self.audit_db_url or f"sqlite:///{self.var_dir / 'audit.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
