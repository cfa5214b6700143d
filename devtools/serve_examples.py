"""`make serve` prints how to call the service and writes the demo requests under var/."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from devtools.example_bundle import example_bundle
from devtools.example_course import example_request


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--out", type=Path, default=Path("var/example_request.json"))
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(example_request(), indent=2))
    bundle = args.out.with_name("example_bundle.json")
    bundle.write_text(json.dumps(example_bundle(), indent=2))
    url = f"http://127.0.0.1:{args.port}"
    print(f"\nServing on {url}  (OpenAPI /docs.json, health /healthz /readyz)")
    print("Every other route needs a bearer token; a development one (signed with the secret")
    print("generated under var/keys/) comes from `make token ROLE=clinician` (or auditor, admin).")
    print("Example requests (a made-up course):\n")
    print("  TOKEN=$(make -s token ROLE=clinician)")
    print(f"  curl -s -X POST {url}/score -H \"Authorization: Bearer $TOKEN\" \\\n"
          f"       -H 'Content-Type: application/json' -d @{args.out}")
    print(f"  curl -s -X POST '{url}/fhir/RiskAssessment/$score' -H \"Authorization: Bearer "
          f"$TOKEN\" \\\n       -H 'Content-Type: application/fhir+json' -d @{bundle}\n")


if __name__ == "__main__":
    main()
