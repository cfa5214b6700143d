"""Which verifier guards which path, built from the settings in each worker."""

from __future__ import annotations

from config import get_settings
from serving.auth.middleware import Authenticators
from serving.auth.scrape import ScrapeTokenAuthenticator, read_scrape_token
from serving.auth.users import UserAuthenticator
from serving.cds.auth import CdsAuthenticator

CDS_SERVICE_PREFIX = "/cds-services/"
METRICS_PATH = "/metrics"


def authenticators_from_settings() -> Authenticators:
    settings = get_settings()
    users = UserAuthenticator.from_settings(settings)
    scrape = (read_scrape_token(settings.metrics_token_file)
              if settings.metrics_token_file is not None else None)
    return Authenticators(
        default=users,
        by_prefix=[(CDS_SERVICE_PREFIX, CdsAuthenticator.from_settings(settings))],
        by_path={METRICS_PATH: ScrapeTokenAuthenticator(scrape, users)},
    )
