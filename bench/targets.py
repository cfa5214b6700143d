"""The target table of `make bench`: each row's figure, spread and whether it is met.

A figure is the median over rounds of a ratio taken inside one round (both sides measured
back to back, so a neighbour's load falls on both), with the smallest and largest round
as its spread. "Met" is always computed here, from the median against the fixed limit.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple


@dataclass(frozen=True)
class Target:
    name: str
    how: str  # how the figure is taken
    limit: float
    op: str  # "<=" or ">="
    unit: str = "x"


@dataclass(frozen=True)
class Row:
    target: Target
    median: float | None
    low: float | None
    high: float | None
    rounds: int
    reason: str = ""  # why not measured

    @property
    def met(self) -> bool | None:
        if self.median is None:
            return None
        return is_met(self.median, self.target)


def is_met(value: float, target: Target) -> bool:
    return value <= target.limit if target.op == "<=" else value >= target.limit


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(values), min(values), max(values)


# Issue 16: serving at the framework's cost per request; audit events cheaper.
SERVING_CPU = Target("server CPU per single-course /score vs echo",
                     "score_1 / echo server CPU ms per request, all client counts pooled",
                     1.5, "<=")
SCALE_8 = Target("/score throughput at 8 clients vs at 1 client",
                 "score_1 req/s at 8 / at 1 client", 1.0, ">=")
SCALE_32 = Target("/score throughput at 32 clients vs at 1 client",
                  "score_1 req/s at 32 / at 1 client", 1.0, ">=")
AUDIT_SQLITE = Target("audit cost per event, SQLite",
                      "build + serialise + chain + write, bench.audit_store.measure", 60.0,
                      "<=", "us")
AUDIT_PG = Target("audit cost per event, PostgreSQL at 127.0.0.1:5432",
                  "the same on PostgreSQL, bench.audit_store.measure", 100.0, "<=", "us")
MANY_VS_JOB = Target("100-course /score courses/s at 1 client vs the audited batch job",
                     "score_100 req/s x 100 at 1 client / `bench.batch_step job` courses/s "
                     "(10k, its store opened to closed), same round", 0.8, ">=")
ISSUE_16 = (SERVING_CPU, SCALE_8, SCALE_32, AUDIT_SQLITE, AUDIT_PG, MANY_VS_JOB)


def _cpu_pooled(runs: dict[str, Any], endpoint: str) -> float:
    """CPU ms per request over every client count of one endpoint in one round (KeyError
    when the round did not run it)."""
    mine = [v for v in runs.values() if v["endpoint"] == endpoint]
    if not mine:
        raise KeyError(endpoint)
    cpu = sum(v["server_cpu_ms_per_request"] * v["requests"] for v in mine)
    return cpu / max(sum(v["requests"] for v in mine), 1)


def _per_round(rounds: list[dict[str, Any]], fn: Callable[[dict[str, Any]], float | None],
               ) -> list[float]:
    out = []
    for r in rounds:
        try:
            v = fn(r)
        except (KeyError, ZeroDivisionError):
            continue
        if v is not None:
            out.append(v)
    return out


def _row(target: Target, values: list[float], missing: str) -> Row:
    if not values:
        return Row(target, None, None, None, 0, missing)
    m, lo, hi = spread(values)
    return Row(target, m, lo, hi, len(values))


def audit_figure(got: Any) -> tuple[float, float, float, int] | None:
    """(median, min, max, rounds) of one backend of `bench.audit_store.measure`, whose
    median is `us_per_event` and `rounds` the per-round list; None when not measured."""
    if not isinstance(got, dict):
        return None
    median = got.get("us_per_event", got.get("median"))
    if median is None:
        return None
    rounds = got.get("rounds")
    n = len(rounds) if isinstance(rounds, list) else int(rounds or 0)
    return float(median), float(got.get("min", median)), float(got.get("max", median)), n


def _audit_row(target: Target, audit: dict[str, Any] | None, backend: str) -> Row:
    if not audit:
        return Row(target, None, None, None, 0, "audit measurement not run")
    if "skipped" in audit:
        return Row(target, None, None, None, 0, str(audit["skipped"]))
    got = audit.get(backend)
    figure = audit_figure(got)
    if figure is None:
        reason = got.get("skipped") if isinstance(got, dict) else None
        return Row(target, None, None, None, 0, str(reason or f"no {backend} figure returned"))
    return Row(target, *figure)


def issue_16_rows(report: dict[str, Any]) -> list[Row]:
    serving = report.get("serving") or {}
    rounds = serving.get("rounds") or []
    why = serving.get("skipped") or "serving load not run"

    def runs(r: dict[str, Any]) -> dict[str, Any]:
        return r["runs"]

    cpu = _per_round(rounds, lambda r: _cpu_pooled(runs(r), "score_1")
                     / _cpu_pooled(runs(r), "echo"))
    s8 = _per_round(rounds, lambda r: runs(r)["score_1@8"]["rps"] / runs(r)["score_1@1"]["rps"])
    s32 = _per_round(rounds, lambda r: runs(r)["score_1@32"]["rps"]
                     / runs(r)["score_1@1"]["rps"])
    job = _per_round(rounds, lambda r: 100 * runs(r)["score_100@1"]["rps"]
                     / r["job"]["rows_s"] if r.get("job") else None)
    audit = report.get("audit_store")
    return [_row(SERVING_CPU, cpu, why), _row(SCALE_8, s8, why), _row(SCALE_32, s32, why),
            _audit_row(AUDIT_SQLITE, audit, "sqlite"), _audit_row(AUDIT_PG, audit, "postgres"),
            _row(MANY_VS_JOB, job, why if not rounds else "the batch job was not measured")]


class Ceiling(NamedTuple):
    """What a target's own figure reaches with our work at zero (`how`: on what), as a
    Row against the target's limit. A row whose ceiling misses its limit cannot be met by
    cutting our own work."""

    how: str
    row: Row


def ceilings(report: dict[str, Any]) -> list[Ceiling]:
    """What the rows measured against echo or the job reach with our work at zero:
    /score's figure taken on the floor service (bench/floor_service.py: the service's
    framework path, middlewares and schemas, answering without features, model or audit),
    and for the 100-course row also on BentoML's bare echo of the same body."""
    rounds = (report.get("serving") or {}).get("rounds") or []
    missing = "the floor service and echo of the 100-course body did not run"

    def runs(r: dict[str, Any]) -> dict[str, Any]:
        return r["runs"]

    def vs_job(endpoint: str) -> list[float]:
        return _per_round(rounds, lambda r: 100 * runs(r)[f"{endpoint}@1"]["rps"]
                          / r["job"]["rows_s"] if r.get("job") else None)

    plan = ((SERVING_CPU, "floor service (our work at zero) / echo, server CPU ms per "
                          "request, all client counts pooled",
             _per_round(rounds, lambda r: _cpu_pooled(runs(r), "floor_1")
                        / _cpu_pooled(runs(r), "echo"))),
            (MANY_VS_JOB, "floor service with the 100-course body: req/s x 100 at 1 client "
                          "/ the job's courses/s, same round", vs_job("floor_100")),
            (MANY_VS_JOB, "BentoML's bare echo of the same body: req/s x 100 at 1 client / "
                          "the job's courses/s, same round", vs_job("echo_100")))
    return [Ceiling(how, _row(t, v, missing)) for t, how, v in plan]


def render_ceilings(rows: list[Ceiling]) -> list[str]:
    lines = ["| target row | the figure with our work at zero | measured (median) | spread | "
             "rounds | limit | within the limit |", "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for how, r in rows:
        median, span, rounds, limit, met = _cells(r)
        lines.append(f"| {r.target.name} | {how} | {median} | {span} | {rounds} | {limit} | "
                     f"{met} |")
    return lines


# Echo's server CPU per single-course request at 1 client where the issue's figures were taken
# (its text: 1.25 ms in its run, 1.27 in the developers').
ISSUE_ECHO_CPU_MS = (1.25, 1.27)


def machine_pace(report: dict[str, Any]) -> tuple[float, float, float] | None:
    """(median, min, max) over rounds of echo's server CPU ms per request at 1 client: how
    fast this machine runs the framework alone, to read the rows in microseconds by (they
    are absolute, so a slower machine reads higher for the same code). None if not run."""
    rounds = (report.get("serving") or {}).get("rounds") or []
    got = [r["runs"]["echo@1"]["server_cpu_ms_per_request"] for r in rounds
           if "echo@1" in r["runs"]]
    return spread(got) if got else None


def render_pace(pace: tuple[float, float, float] | None) -> list[str]:
    """The pace line under the target table; nothing when echo did not run."""
    if pace is None:
        return []
    median, low, high = pace
    here = f"{median:.2f} ms ({low:.2f}-{high:.2f})"
    there = "-".join(f"{v:.2f}" for v in ISSUE_ECHO_CPU_MS)
    return [f"Pace of this machine: BentoML's bare echo costs {here} of server CPU per "
            f"single-course request at 1 client; where the issue's figures were taken it cost "
            f"{there} ms. The audit rows are in microseconds, not ratios: their figures move "
            "with the machine, and their limits are the issue's, unscaled."]


def latency_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per endpoint and client count: median over rounds of req/s, p50/p95/p99 and CPU per
    request, with min and max."""
    rounds = (report.get("serving") or {}).get("rounds") or []
    keys = list(dict.fromkeys(k for r in rounds for k in r["runs"]))
    out = []
    for key in keys:
        got = [r["runs"][key] for r in rounds if key in r["runs"]]
        row: dict[str, Any] = {"endpoint": got[0]["endpoint"], "clients": got[0]["clients"],
                               "rounds": len(got), "errors": sum(g["errors"] for g in got)}
        for field in ("rps", "p50_ms", "p95_ms", "p99_ms", "server_cpu_ms_per_request"):
            row[field] = spread([g[field] for g in got])
        out.append(row)
    return out


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    return f"{v:.0f} us" if unit == "us" else f"{v:.2f}x"


def render(rows: list[Row]) -> list[str]:
    lines = ["| figure | measured (median) | spread (min-max) | rounds | target | met |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        median, span, rounds, limit, met = _cells(r)
        lines.append(f"| {r.target.name} ({r.target.how}) | {median} | {span} | {rounds} | "
                     f"{limit} | {met} |")
    return lines


def _cells(r: Row) -> tuple[str, str, str, str, str]:
    """(median, spread, rounds, limit, met) of a row as the tables print them."""
    t = r.target
    met = f"not measured: {r.reason}" if r.met is None else "yes" if r.met else "**no**"
    span = "-" if r.low is None else f"{fmt(r.low, t.unit)} - {fmt(r.high, t.unit)}"
    limit = f"{t.op} {t.limit:g}{' us' if t.unit == 'us' else 'x'}"
    return fmt(r.median, t.unit), span, str(r.rounds or "-"), limit, met
