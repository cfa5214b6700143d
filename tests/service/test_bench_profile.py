"""The bench's in-process per-request profile runs the real pipeline and writes its events."""

from __future__ import annotations

from config import get_settings


def test_profile_pipeline_reports_every_stage(champion_dir, tmp_path, monkeypatch):
    from audit import AuditStore, init_installation
    from audit.paths import AuditPaths
    from bench.serving_load import profile_pipeline

    # The function points VAR_DIR / MODELS_DIR at its own folders; monkeypatch restores them.
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MODELS_DIR", str(champion_dir.parent))
    init_installation(f"sqlite:///{tmp_path / 'var' / 'audit.db'}", AuditPaths.under(tmp_path / "var"))
    try:
        report = profile_pipeline(champion_dir, tmp_path, n=5, out=tmp_path / "profile.txt")
        assert set(report["cpu_ms"]) == set(report["wall_ms"])
        assert 0 < report["cpu_ms"]["whole request"] < 1000
        assert "PredictionPipeline.predict" in (tmp_path / "profile.txt").read_text()
        with AuditStore(get_settings().audit_url) as store:
            assert store.head()[0] >= 5 and store.verify().ok
    finally:
        get_settings.cache_clear()
