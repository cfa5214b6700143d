"""reports/bench.json + reports/bench.md (tables, targets, plots) from one bench run."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from bench.targets import (
    audit_figure,
    ceilings,
    issue_16_rows,
    latency_rows,
    machine_pace,
    render,
    render_ceilings,
    render_pace,
)

TARGETS = (
    # (name, how to read it, limit, direction)
    ("single /score rps@32 vs echo", "score_1 rps / echo rps at 32 clients", 0.5, ">="),
    ("single /score p50@8 vs echo", "score_1 p50 / echo p50 at 8 clients", 2.5, "<="),
    ("batch no-SHAP path vs inplace_predict", "slowdown, full path (validate+features)", 2.0,
     "<="),
    ("batch no-SHAP model vs inplace_predict", "slowdown, RiskModel on a built matrix", 2.0,
     "<="),
    ("batch SHAP path vs pred_contribs", "slowdown, full path (validate+features+SHAP+top)", 1.3,
     "<="),
    ("training 1M courses", "wall seconds, features included (FULL=1)", 300.0, "<="),
)


def _round_median(r: dict, fn) -> float | None:  # noqa: ANN001
    """Median over serving rounds of a figure taken within each round."""
    values = []
    for rnd in (r.get("serving") or {}).get("rounds") or []:
        try:
            values.append(fn(rnd["runs"]))
        except KeyError:
            continue
    return statistics.median(values) if values else None


def _target_values(r: dict) -> dict[str, float | None]:
    out: dict[str, float | None] = dict.fromkeys(t[0] for t in TARGETS)
    out["single /score rps@32 vs echo"] = _round_median(
        r, lambda x: x["score_1@32"]["rps"] / x["echo@32"]["rps"])
    out["single /score p50@8 vs echo"] = _round_median(
        r, lambda x: x["score_1@8"]["p50_ms"] / x["echo@8"]["p50_ms"])
    batch = r.get("batch") or {}
    if batch:
        worst = {k: max(b["ratios"][k] for b in batch.values() if k in b["ratios"])
                 for b0 in batch.values() for k in b0["ratios"]}
        out["batch no-SHAP path vs inplace_predict"] = worst[
            "noshap_path_vs_inplace_predict_slowdown"]
        out["batch no-SHAP model vs inplace_predict"] = worst[
            "model_predict_vs_inplace_predict_slowdown"]
        out["batch SHAP path vs pred_contribs"] = worst["path_vs_pred_contribs_slowdown"]
    t1m = (r.get("training") or {}).get("1000000")
    if t1m:
        out["training 1M courses"] = t1m["seconds"]
    return out


def _plots(r: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    batch = r.get("batch") or {}
    if batch:
        fig, ax = plt.subplots(figsize=(7, 4))
        sizes = list(batch)
        series = {
            "XGBoost inplace_predict (built matrix)": [b["floor"]["xgb_inplace_predict_rows_s"]
                                                        for b in batch.values()],
            "XGBoost pred_contribs (built matrix)": [b["floor"]["xgb_pred_contribs_rows_s"]
                                                      for b in batch.values()],
            "path, no SHAP": [b["noshap"]["rows_s"] for b in batch.values()],
            "path with SHAP top factors": [b["path"]["rows_s"] for b in batch.values()],
        }
        for label, ys in series.items():
            ax.plot([int(s) for s in sizes], ys, marker="o", label=label)
        ax.set(xscale="log", yscale="log", xlabel="courses", ylabel="rows / s",
               title="Batch scoring throughput")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "bench_batch.png", dpi=110)
        plt.close(fig)
        names.append("bench_batch.png")
    training = r.get("training") or {}
    if training:
        fig, ax = plt.subplots(figsize=(6, 4))
        xs = [int(n) for n in training]
        ax.plot(xs, [t["seconds"] for t in training.values()], marker="o", label="wall s")
        ax2 = ax.twinx()
        ax2.plot(xs, [t["peak_rss_mb"] for t in training.values()], marker="s", color="C1",
                 label="peak MB")
        ax.set(xscale="log", xlabel="courses", ylabel="seconds", title="Training")
        ax2.set_ylabel("peak RSS MB")
        fig.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "bench_training.png", dpi=110)
        plt.close(fig)
        names.append("bench_training.png")
    lat = latency_rows(r)
    if lat:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for endpoint in ("echo", "score_1", "echo_100", "score_100"):
            pts = [v for v in lat if v["endpoint"] == endpoint]
            axes[0].plot([p["clients"] for p in pts], [p["rps"][0] for p in pts], marker="o",
                         label=endpoint)
            axes[1].plot([p["clients"] for p in pts], [p["p50_ms"][0] for p in pts], marker="o",
                         label=endpoint)
        axes[0].set(xlabel="clients", ylabel="requests / s", title="Throughput (wrk)")
        axes[1].set(xlabel="clients", ylabel="p50 ms", yscale="log", title="Median latency")
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "bench_serving.png", dpi=110)
        plt.close(fig)
        names.append("bench_serving.png")
    return names


def _md(r: dict, plots: list[str]) -> str:
    L = [f"# Benchmarks (`{r['command']}`)", "",
         f"Machine: {r['machine']['cpus']} CPUs, Python {r['machine']['python']}; "
         f"started {r['started']}; {r['seconds']:.0f} s in all. Every figure is measured in "
         "this run next to its baseline; ratios are what to compare across machines.", ""]
    model = r.get("model") or {}
    if model and not model.get("promoted", True):
        L += [f"The bench model ({model['path']}) was refused by the promotion gates; it is "
              "measured anyway: these figures are of cost, not of quality.", ""]
    pace = render_pace(machine_pace(r))
    L += ["## Targets of issue 16 (serving and audit cost)", "", *render(issue_16_rows(r)), "",
          *pace, *([""] if pace else []),
          "The same figures with our work at zero: the floor service (the service with its "
          "pipeline's work taken out, bench/floor_service.py) or BentoML's bare echo of the "
          "same body in /score's place. Where this misses the limit, no cut of our own work "
          "can meet the row.", "", *render_ceilings(ceilings(r)), ""]
    values = _target_values(r)
    L += ["## Earlier targets", "", "| target | measured | limit | met |", "| --- | ---: | ---: | --- |"]
    for name, how, limit, op in TARGETS:
        v = values[name]
        met = "not measured" if v is None else ("yes" if (v >= limit if op == ">=" else
                                                          v <= limit) else "**no**")
        shown = "-" if v is None else f"{v:.2f}"
        L.append(f"| {name} ({how}) | {shown} | {op} {limit:g} | {met} |")
    batch = r.get("batch") or {}
    if batch:
        L += ["", "## Batch scoring (rows/s; model " + r["model"]["path"] + ")", "",
              "| courses | XGB inplace_predict | XGB pred_contribs | RiskModel predict | "
              "RiskModel explain+top | path no SHAP | path + SHAP top | audited job | "
              "path peak MB | SHAP engine |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for n, b in batch.items():
            f = b["floor"]
            job = b.get("job")
            L.append(f"| {int(n):,} | {f['xgb_inplace_predict_rows_s']:,.0f} | "
                     f"{f['xgb_pred_contribs_rows_s']:,.0f} | "
                     f"{f['model_predict_proba_rows_s']:,.0f} | "
                     f"{f['model_explain_top_rows_s']:,.0f} | {b['noshap']['rows_s']:,.0f} | "
                     f"{b['path']['rows_s']:,.0f} | "
                     f"{'-' if job is None else format(job['rows_s'], ',.0f')} | "
                     f"{b['path']['peak_rss_mb']:,.0f} | {f['explainer_engine']} "
                     f"({f['n_trees']} trees) |")
        L += ["", "Slowdown factors (baseline rows/s divided by ours; 1.0 = as fast):", ""]
        for n, b in batch.items():
            L.append(f"- {int(n):,}: " + ", ".join(f"{k} {v:.2f}x" for k, v in
                                                    b["ratios"].items()))
        n0 = next(iter(batch))
        L += ["", f"Stage seconds of the full path at {int(n0):,}: " + ", ".join(
            f"{k} {v:.2f}" for k, v in batch[n0]["path"]["seconds"].items())]
        if batch[n0].get("job"):
            L.append(f"Stage seconds of the audited job at {int(n0):,}: " + ", ".join(
                f"{k} {v:.2f}" for k, v in batch[n0]["job"]["seconds"].items()))
    training = r.get("training") or {}
    if training:
        L += ["", "## Training (`training.train.train`, features included)", "",
              "| courses | wall s | peak MB | features s | fit s | gates s | extras s | "
              "test AUROC | growth vs previous size |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        prev = None
        for n, t in training.items():
            growth = "" if prev is None else (f"time x{t['seconds'] / prev['seconds']:.1f}, "
                                              f"memory x{t['peak_rss_mb'] / prev['peak_rss_mb']:.1f}")
            st = t["stage_seconds"]
            L.append(f"| {int(n):,} | {t['seconds']:.1f} | {t['peak_rss_mb']:,.0f} | "
                     f"{st.get('features', 0):.1f} | {st.get('fit', 0):.1f} | "
                     f"{st.get('gates', 0):.1f} | {st.get('extras', 0):.1f} | {t['auroc']:.3f} | "
                     f"{growth} |")
            prev = t
        L += ["", "extras: the bootstrap ensemble (10 members) and the survival model fitted for a "
              "promoted version (riskmodel/extras.py); gates: the patient bootstrap behind every "
              "promotion gate."]
    serving = r.get("serving") or {}
    L += ["", "## Serving under load (wrk over loopback)", ""]
    if "skipped" in serving:
        L.append(serving["skipped"])
    elif serving:
        L += [f"Settings: {serving['settings']}, {serving['seconds_per_run']} s per run, "
              f"{len(serving['rounds'])} rounds; token from {serving['token_source']}. The load "
              "generator shares the 2 cores. Each cell: median over rounds (min-max).", "",
              "| endpoint | clients | req/s | p50 ms | p95 ms | p99 ms | server CPU ms/req | "
              "errors |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

        def cell(v: tuple[float, float, float], f: str) -> str:
            return f"{v[0]:{f}} ({v[1]:{f}}-{v[2]:{f}})"

        for v in latency_rows(r):
            L.append(f"| {v['endpoint']} | {v['clients']} | {cell(v['rps'], ',.0f')} | "
                     f"{cell(v['p50_ms'], '.1f')} | {cell(v['p95_ms'], '.1f')} | "
                     f"{cell(v['p99_ms'], '.1f')} | "
                     f"{cell(v['server_cpu_ms_per_request'], '.2f')} | {v['errors']} |")
        jobs = [x["job"] for x in serving["rounds"] if x.get("job")]
        if jobs:
            L.append("\nAudited batch job (`bench.batch_step job`, 10k courses) between rounds, "
                     "its store opened to closed: "
                     + ", ".join(f"{j['rows_s']:,.0f}" for j in jobs) + " courses/s.")
            if all("rows_s_run_batch_total" in j for j in jobs):
                # The 100-course row's divisor before session 11 (bench/NOTES.md).
                L.append("The same by `run_batch`'s own total (store open and close left out): "
                         + ", ".join(f"{j['rows_s_run_batch_total']:,.0f}" for j in jobs)
                         + " courses/s.")
    audit = r.get("audit_store") or {}
    if audit:
        L += ["", "## Audit cost per event (bench.audit_store.measure)", ""]
        for backend in ("sqlite", "postgres"):
            got = audit.get(backend)
            fig = audit_figure(got)
            if fig is not None:
                L.append(f"- {backend}: {fig[0]:.0f} us per event (min {fig[1]:.0f}, max "
                         f"{fig[2]:.0f}, {fig[3]} rounds)")
            else:
                why = audit.get("skipped") or (got.get("skipped") if isinstance(got, dict)
                                               else None)
                L.append(f"- {backend}: not measured ({why or 'no figure returned'})")
    shap = r.get("shap_engine") or {}
    if shap:
        L += ["", "## Fast TreeSHAP engine (bench/shap_bench.py)", ""]
        if "report" in shap:
            for res in shap["report"]["results"]:
                L.append(f"- {res['model']}: {res['fast_rows_per_s']:,.0f} rows/s vs "
                         f"pred_contribs {res['pred_contribs_rows_per_s']:,.0f} "
                         f"(x{res['batch_speedup']:.1f}); single row "
                         f"{res['fast_single_ms']:.3f} ms vs {res['pred_contribs_single_ms']:.3f}"
                         f" ms; max |diff| {res['max_abs_diff_vs_pred_contribs']:.1e}")
        else:
            L.append(shap["skipped"])
    L += ["", "## Profile (pyinstrument)", "",
          "See `reports/bench_profile.txt` (full path at 10k, then one 2,000-event audit "
          "write) and the findings below (bench/NOTES.md).", ""]
    L += [f"![{p}]({p})" for p in plots]
    L += ["", "## Commands", ""]
    for section in ("training", "batch"):
        for n, v in (r.get(section) or {}).items():
            items = v.items() if section == "batch" else [("train", v)]
            for mode, step in items:
                if isinstance(step, dict) and "command" in step:
                    L.append(f"- {section} {int(n):,} {mode}: `{step['command']}`")
    rounds = (r.get("serving") or {}).get("rounds") or []
    for v in (rounds[0]["runs"].values() if rounds else []):
        L.append(f"- serving {v['endpoint']}@{v['clients']} (each round): `{v['command']}`")
    if rounds and rounds[0].get("job"):
        L.append(f"- audited batch job (each round): `{rounds[0]['job']['command']}`")
    if audit.get("command"):
        L.append(f"- audit cost: `{audit['command']}`")
    if "command" in shap:
        L.append(f"- shap engine: `{shap['command']}`")
    return "\n".join(L) + "\n"


def write_report(r: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    plots = _plots(r, out)
    (out / "bench.json").write_text(json.dumps(r, indent=2, default=str))
    notes = Path(__file__).with_name("NOTES.md")
    md = _md(r, plots)
    if notes.exists():  # hand-written findings (profile, what would meet the targets)
        md += "\n" + notes.read_text()
    path = out / "bench.md"
    path.write_text(md)
    return path


if __name__ == "__main__":  # re-render bench.md from a saved bench.json
    import sys

    src = Path(sys.argv[1] if len(sys.argv) > 1 else "reports/bench.json")
    print(write_report(json.loads(src.read_text()), src.parent).read_text())
