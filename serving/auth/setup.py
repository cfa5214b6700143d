"""Which verifier guards which path, built from the settings in each worker."""

from __future__ import annotations

from config import get_settings
from serving.auth.middleware import Authenticators
from serving.auth.users import UserAuthenticator
from serving.cds.auth import CdsAuthenticator

CDS_SERVICE_PREFIX = "/cds-services/"


def authenticators_from_settings() -> Authenticators:
    settings = get_settings()
    return Authenticators(
        default=UserAuthenticator.from_settings(settings),
        by_prefix=[(CDS_SERVICE_PREFIX, CdsAuthenticator.from_settings(settings))],
    )
