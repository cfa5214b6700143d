"""The framework's ceiling: a bare BentoML endpoint that returns its input.

Started by the bench with the same workers / threads as the real service
(BENTO_WORKERS, BENTO_THREADS), so the two differ only by our own work.
"""

from __future__ import annotations

import os
from typing import Any

import bentoml


@bentoml.service(
    name="bench_echo",
    workers=int(os.environ.get("BENTO_WORKERS", "1")),
    threads=int(os.environ.get("BENTO_THREADS", "4")),
    traffic={"timeout": 60},
)
class EchoService:
    @bentoml.api(route="/echo")
    def echo(self, courses: list[dict[str, Any]]) -> dict[str, Any]:
        return {"courses": courses}
