"""Model calls are shared between concurrent requests only when a call is expensive."""

from __future__ import annotations

from types import SimpleNamespace

from serving.coalescing import CoalescedModel
from serving.pipeline import PredictionPipeline


def _model(engine: str) -> SimpleNamespace:
    artifact = SimpleNamespace(name="relapse-risk", version="1", sha256="ab" * 32)
    return SimpleNamespace(artifact=artifact, explainer=SimpleNamespace(engine=engine),
                           explain=lambda matrix: None,
                           served=SimpleNamespace(training_data="synthetic"))


def test_fast_engine_is_called_directly() -> None:
    model = _model("fast")
    pipeline = PredictionPipeline(model, audit=None, coalesce=True)  # type: ignore[arg-type]
    assert pipeline.served_model is model


def test_pred_contribs_engine_is_shared() -> None:
    pipeline = PredictionPipeline(_model("pred_contribs"), audit=None,  # type: ignore[arg-type]
                                  coalesce=True)
    assert isinstance(pipeline.served_model, CoalescedModel)
    off = PredictionPipeline(_model("pred_contribs"), audit=None,  # type: ignore[arg-type]
                             coalesce=False)
    assert not isinstance(off.served_model, CoalescedModel)
