"""Query parameters of the event list: parsed once, 400 with the parameter name on error."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException

RISK_BANDS = ("low", "moderate", "high")


@dataclass(frozen=True)
class EventFilters:
    since: datetime | None = None
    until: datetime | None = None
    model_version: str | None = None
    risk_band: str | None = None
    caller_sub: str | None = None
    limit: int = 50
    offset: int = 0

    def store_filters(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("limit"), out.pop("offset")
        return out

    def for_record(self) -> dict[str, Any]:
        """What the access log keeps: the filters as text."""
        return {k: (v.isoformat() if isinstance(v, datetime) else v)
                for k, v in asdict(self).items() if v not in (None, "")}

    def query(self, **changes: Any) -> str:
        """Query string of these filters with `changes` applied (for paging links)."""
        from urllib.parse import urlencode

        values = {**self.for_record(), **changes}
        return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def _time(params: QueryParams, name: str) -> datetime | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = (datetime.fromisoformat(raw) if "T" in raw or " " in raw
                 else datetime.combine(date.fromisoformat(raw), datetime.min.time()))
    except ValueError:
        raise HTTPException(400, f"{name}: expected an ISO 8601 date or date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _text(params: QueryParams, name: str) -> str | None:
    raw = (params.get(name) or "").strip()
    if len(raw) > 200:
        raise HTTPException(400, f"{name}: longer than 200 characters")
    return raw or None


def _int(params: QueryParams, name: str, default: int, lo: int, hi: int) -> int:
    raw = (params.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, f"{name}: expected an integer") from None
    if not lo <= value <= hi:
        raise HTTPException(400, f"{name}: must be between {lo} and {hi}")
    return value


def parse_filters(params: QueryParams, *, max_limit: int = 1000) -> EventFilters:
    band = _text(params, "risk_band")
    if band is not None and band not in RISK_BANDS:
        raise HTTPException(400, f"risk_band: one of {', '.join(RISK_BANDS)}")
    return EventFilters(since=_time(params, "since"), until=_time(params, "until"),
                        model_version=_text(params, "model_version"), risk_band=band,
                        caller_sub=_text(params, "caller_sub"),
                        limit=_int(params, "limit", 50, 1, max_limit),
                        offset=_int(params, "offset", 0, 0, 10**9))
