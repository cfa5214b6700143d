"""The bench's in-process per-request profile times the real pipeline, audit writes included."""

from __future__ import annotations

from config import get_settings


def test_profile_pipeline_times_real_audited_requests(champion_dir, tmp_path, monkeypatch):
    from audit import AuditStore, init_installation
    from audit.paths import AuditPaths
    from bench.serving_load import PROFILE_WARMUP, profile_pipeline
    from devtools.example_course import example_request

    n = 5
    # The function points VAR_DIR / MODELS_DIR at its own folders; monkeypatch restores them.
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MODELS_DIR", str(champion_dir.parent))
    init_installation(f"sqlite:///{tmp_path / 'var' / 'audit.db'}", AuditPaths.under(tmp_path / "var"))
    try:
        report = profile_pipeline(champion_dir, tmp_path, n=n, out=tmp_path / "profile.txt")
        cpu = report["cpu_ms"]
        # The whole request contains the feature + SHAP stage, so it cannot cost less.
        assert cpu["whole request"] >= cpu["features + SHAP + interval + curve"]
        assert "PredictionPipeline.predict" in (tmp_path / "profile.txt").read_text()
        # Every timed "append" and "whole request" call, and every profiled request, wrote its
        # events to the chain: the figures are of audited requests, not of a stub.
        per_call = len(example_request()["courses"])
        with AuditStore(get_settings().audit_url) as store:
            assert store.head()[0] == (2 * (PROFILE_WARMUP + n) + n) * per_call
            assert store.verify().ok
    finally:
        get_settings.cache_clear()
