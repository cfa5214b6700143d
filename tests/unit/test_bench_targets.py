"""The bench's target rows: figures from the rounds, "met" computed against the fixed limit."""

from __future__ import annotations

from bench.targets import (
    AUDIT_PG,
    AUDIT_SQLITE,
    MANY_VS_JOB,
    SCALE_8,
    SCALE_32,
    SERVING_CPU,
    ceilings,
    issue_16_rows,
    latency_rows,
    machine_pace,
    render,
    render_pace,
)


def _run(endpoint: str, clients: int, rps: float, cpu_ms: float) -> dict:
    return {"endpoint": endpoint, "clients": clients, "rps": rps, "requests": int(rps * 5),
            "server_cpu_ms_per_request": cpu_ms, "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0,
            "errors": 0}


def _round(score_cpu: float, rps1: float, rps8: float, many_rps: float, job: float) -> dict:
    runs = {}
    for c, rps in ((1, rps1), (8, rps8), (32, rps8)):
        runs[f"echo@{c}"] = _run("echo", c, 500, 1.0)
        runs[f"floor_1@{c}"] = _run("floor_1", c, 400, 1.25)
        runs[f"score_1@{c}"] = _run("score_1", c, rps, score_cpu)
    runs["score_100@1"] = _run("score_100", 1, many_rps, 50.0)
    runs["echo_100@1"] = _run("echo_100", 1, 2 * many_rps, 20.0)
    runs["floor_100@1"] = _run("floor_100", 1, 1.5 * many_rps, 30.0)
    return {"runs": runs, "job": {"rows_s": job}}


def _by_name(report: dict) -> dict:
    return {row.target.name: row for row in issue_16_rows(report)}


def test_rows_met_and_unmet_follow_the_median_of_rounds():
    rounds = [_round(1.4, 100, 150, 40, 5000), _round(1.6, 100, 90, 30, 5000),
              _round(1.45, 100, 120, 45, 5000), _round(2.0, 100, 80, 10, 5000)]
    rows = _by_name({"serving": {"rounds": rounds}})
    cpu = rows[SERVING_CPU.name]
    assert (cpu.median, cpu.low, cpu.high, cpu.rounds) == (1.525, 1.4, 2.0, 4)
    assert cpu.met is False  # 1.525x > 1.5x: a miss, even though two rounds were under it
    s8 = rows[SCALE_8.name]
    assert s8.median == 1.05 and s8.met is True
    assert rows[SCALE_32.name].met is True
    many = rows[MANY_VS_JOB.name]  # 100 x req/s / job courses/s: 0.8, 0.6, 0.9, 0.2
    assert abs(many.median - 0.7) < 1e-9 and many.met is False


def test_a_row_whose_figure_misses_is_rendered_unmet():
    rows = issue_16_rows({"serving": {"rounds": [_round(3.0, 100, 50, 1, 5000)] * 4}})
    text = "\n".join(render(rows))
    line = next(x for x in text.splitlines() if x.startswith(f"| {SERVING_CPU.name}"))
    assert "3.00x" in line and line.endswith("| **no** |")


def test_audit_rows_read_measure_and_say_why_when_not_measured():
    audit = {"sqlite": {"us_per_event": 55.0, "min": 50.0, "max": 70.0,
                        "rounds": [50.0, 55.0, 55.0, 70.0]},
             "postgres": {"skipped": "PostgreSQL unreachable (OperationalError)"}}
    rows = _by_name({"audit_store": audit})
    sqlite = rows[AUDIT_SQLITE.name]
    assert (sqlite.median, sqlite.low, sqlite.high, sqlite.rounds, sqlite.met) == (
        55.0, 50.0, 70.0, 4, True)
    pg = rows[AUDIT_PG.name]
    assert pg.met is None and "unreachable" in pg.reason
    missing = _by_name({"audit_store": {"skipped": "bench.audit_store.measure is not there"}})
    assert "not there" in missing[AUDIT_SQLITE.name].reason
    # without a serving run every serving row is "not measured", never met
    assert all(r.met is None for r in issue_16_rows({}))


def test_latency_rows_give_median_and_spread_per_endpoint_and_clients():
    rounds = [_round(1.0, r, r, 10, 5000) for r in (100, 300, 200, 400)]
    rows = {(r["endpoint"], r["clients"]): r for r in latency_rows(
        {"serving": {"rounds": rounds}})}
    assert rows[("score_1", 8)]["rps"] == (250.0, 100, 400)
    assert rows[("score_100", 1)]["rounds"] == 4


def test_bench_measures_the_newest_exported_candidate_when_gates_refused(tmp_path):
    from bench.run import _candidate

    assert _candidate(tmp_path) is None
    for name in ("1", "2", "10", "3"):
        (tmp_path / "candidates" / name).mkdir(parents=True)
        (tmp_path / "candidates" / name / "manifest.json").write_text("{}")
    (tmp_path / "candidates" / "11").mkdir()  # an export that never finished: no manifest
    assert _candidate(tmp_path) == tmp_path / "candidates" / "10"


def test_ceilings_put_the_floor_service_and_echo_in_score_s_place():
    rounds = [_round(1.4, 100, 150, 40, 5000), _round(1.6, 100, 90, 30, 5000),
              _round(1.45, 100, 120, 45, 5000), _round(2.0, 100, 80, 10, 5000)]
    (_, cpu), (_, floor_many), (_, echo_many) = ceilings({"serving": {"rounds": rounds}})
    assert cpu.target is SERVING_CPU and cpu.median == 1.25 and cpu.met is True
    # floor answers 60, 45, 67.5, 15 req/s: x 100 / 5000 courses/s = 1.2, 0.9, 1.35, 0.3
    assert floor_many.target is MANY_VS_JOB and floor_many.rounds == 4
    assert abs(floor_many.median - 1.05) < 1e-9 and (floor_many.low, floor_many.high) == (
        0.3, 1.35)
    # echo answers 80, 60, 90, 20 req/s: 1.6, 1.2, 1.8, 0.4
    assert abs(echo_many.median - 1.4) < 1e-9 and echo_many.met is True
    slow = [_round(1.4, 100, 150, 10, 5000)] * 4  # echo: 20 req/s x 100 / 5000 = 0.4x
    assert ceilings({"serving": {"rounds": slow}})[2].row.met is False
    assert all(c.row.met is None for c in ceilings({}))
    for r in rounds:  # a bench from before the floor service: not measured, never 0.00x
        del r["runs"]["floor_1@1"], r["runs"]["floor_1@8"], r["runs"]["floor_1@32"]
    assert ceilings({"serving": {"rounds": rounds}})[0].row.median is None


def test_the_pace_line_gives_echo_s_cpu_at_one_client_beside_the_issue_s():
    """Echo's server CPU per request at 1 client, median and spread of the rounds, under the
    table: the rows in microseconds are read against it (they are not ratios)."""
    rounds = [_round(1.4, 100, 150, 40, 5000) for _ in range(3)]
    for r, cpu in zip(rounds, (2.5, 2.4, 3.1), strict=True):  # median 2.5, mean 2.67
        r["runs"]["echo@1"]["server_cpu_ms_per_request"] = cpu
        r["runs"]["echo@8"]["server_cpu_ms_per_request"] = 9.0  # other client counts: not it
    assert machine_pace({"serving": {"rounds": rounds}}) == (2.5, 2.4, 3.1)
    (line,) = render_pace(machine_pace({"serving": {"rounds": rounds}}))
    assert "2.50 ms (2.40-3.10)" in line and "1.25-1.27 ms" in line
    assert machine_pace({"serving": {"skipped": "wrk not installed"}}) is None
    assert render_pace(None) == []
