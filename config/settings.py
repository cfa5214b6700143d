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

    app_env: str = Field("development", description="`production` refuses every demo fallback "
                                                    "at start (serving/production.py)")
    data_dir: Path = Field(Path("data/raw"), description="Folder with intake, sessions, outcomes")
    models_dir: Path = Field(Path("models"), description="Exported model versions")
    var_dir: Path = Field(Path("var"), description="Local state: keys, audit db, checkpoints")
    reports_dir: Path = Field(Path("reports"), description="Evaluation and benchmark reports")
    mlflow_tracking_uri: str = Field("", description="MLflow store; default SQLite under var/")
    model_name: str = "relapse-risk"
    model_alias: str = "champion"
    audit_db_url: str = Field("", description="Audit store as the service connects to it (on "
                              "PostgreSQL an INSERT/SELECT-only role); default SQLite under var/")
    audit_owner_db_url: str = Field("", description="Audit store as its owner role, for "
                                    "make audit-init / audit-migrate (default: AUDIT_DB_URL)")
    audit_service_role: str = Field("", description="PostgreSQL role granted only INSERT and "
                                    "SELECT by make audit-migrate (the role AUDIT_DB_URL uses)")
    audit_hmac_key_file: Path | None = Field(
        None, description="Audit chain HMAC key, outside the database (default var/keys/)")
    patient_key_file: Path | None = Field(
        None, description="Patient-surrogate HMAC key (default var/keys/)")
    audit_checkpoint_dir: Path | None = Field(
        None, description="Signed checkpoint chain, outside the database's trust domain "
                          "(production: another host or write-once storage; default var/)")
    audit_signing_key_file: Path | None = Field(
        None, description="Ed25519 private key signing checkpoints (default var/keys/)")
    audit_verify_key_file: Path | None = Field(
        None, description="Ed25519 public keys verifying checkpoints (default var/keys/)")
    # API authentication (serving/auth): dev HS256 secret unless RS256 keys or a JWKS are named.
    jwt_audience: str = Field("relapse-risk", description="Required `aud` of bearer tokens")
    jwt_issuer: str = Field(
        "", description="Required `iss` of bearer tokens (empty: the dev tokens' issuer)")
    jwt_max_lifetime_s: int = Field(
        12 * 3600, ge=60, description="Longest accepted token lifetime (exp - iat), user and EHR")
    jwt_secret_file: Path | None = Field(
        None, description="Dev HS256 secret, generated on first use (default var/keys/)")
    jwt_public_keys: str = Field(
        "", description="Comma-separated RS256 public key PEM files (key id = file stem)")
    jwt_jwks_file: Path | None = Field(None, description="JWKS file of the identity provider")
    cds_issuers_file: Path | None = Field(
        None, description="CDS Hooks issuer allow-list: JSON {issuer: {jwks_file: path}}")
    service_url: str = Field(
        "http://127.0.0.1:3000", description="Base URL EHRs call (`make serve` sets PORT's)")
    cds_audience: str = Field(
        "", description="Comma-separated accepted `aud` of EHR tokens (empty: SERVICE_URL + "
                        "/cds-services/relapse-risk)")
    cds_db_url: str = Field("", description="CDS Hooks state shared by workers: used jti, "
                                            "card feedback (default SQLite under var/)")
    metrics_token_file: Path | None = Field(
        None, description="Prometheus scrape token for GET /metrics (admin JWTs work too)")
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="Request body limit (413)")
    seed: int = 7

    @field_validator("data_dir", "models_dir", "var_dir", "reports_dir", "audit_hmac_key_file",
                     "patient_key_file", "audit_checkpoint_dir", "audit_signing_key_file",
                     "audit_verify_key_file", "jwt_secret_file",
                     "jwt_jwks_file", "cds_issuers_file", "metrics_token_file")
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
    def audit_signing_key_path(self) -> Path:
        return self.audit_signing_key_file or self.var_dir / "keys" / "audit-checkpoint.key"

    @property
    def audit_verify_key_path(self) -> Path:
        return self.audit_verify_key_file or self.var_dir / "keys" / "audit-checkpoint.pub"

    @property
    def jwt_secret_path(self) -> Path:
        return self.jwt_secret_file or self.var_dir / "keys" / "jwt-hs256.key"

    @property
    def cds_url(self) -> str:
        return self.cds_db_url or f"sqlite:///{self.var_dir / 'cds-hooks.db'}"

    @property
    def cds_audiences(self) -> list[str]:
        """`aud` values EHR tokens may carry: configuration only, never the Host header."""
        named = [a.strip() for a in self.cds_audience.split(",") if a.strip()]
        return named or [f"{self.service_url.rstrip('/')}/cds-services/relapse-risk"]

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.var_dir / 'mlflow.db'}"

    @property
    def mlflow_artifact_root(self) -> Path:
        return self.var_dir / "mlartifacts"

    @property
    def audit_url(self) -> str:
        return self.audit_db_url or f"sqlite:///{self.var_dir / 'audit.db'}"

    @property
    def audit_owner_url(self) -> str:
        return self.audit_owner_db_url or self.audit_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
