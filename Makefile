# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck install temporal-cli temporal-server jaeger down clean bench-resources validate-deploy

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# psflow with its dev extras, and the emulators: their own package (sandbox/pyproject.toml), not part of psflow.
$(VENV)/.installed: pyproject.toml sandbox/pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./sandbox
	touch $@

install: $(VENV)/.installed

# Finds the Temporal CLI, or builds it once from its Go module into ~/.cache/psflow (minutes, once).
temporal-cli: install
	@$(BIN)/python -m stack.local.temporal_cli

# Finds the Temporal server, its SQL schema tool and the UI server (the versions the CLI embeds), or builds them
# once with Go into ~/.cache/psflow (minutes, once): tests/cluster and `psflow dev up --cluster` run a real cluster.
temporal-server: install
	@$(BIN)/python -m stack.local.temporal_server

# Finds Jaeger v2, or builds it once from tools/jaeger into ~/.cache/psflow (about 5 minutes cold, once):
# tests/ops/test_traces.py and `psflow dev up --telemetry` send traces to a real one.
jaeger: install
	@$(BIN)/python -m stack.local.jaeger

# PostgreSQL and Prometheus from Debian packages (the tests start real ones): installed when missing.
system-packages:
	@bash scripts/system_packages.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: install system-packages temporal-cli temporal-server jaeger validate-deploy lint typecheck
	$(BIN)/pytest

demo: install temporal-cli
	$(BIN)/psflow demo

# 10k BambooHR workers synced into Kantata through Temporal, against the raw HR read (docs/BENCHMARKS.md).
bench-resources: install temporal-cli
	$(BIN)/python -m bench.resources $(ARGS)

# deploy/ offline: compose-go, kustomize | kubeconform -strict, the Helm values' pins, hadolint (docs/deploy.md).
# Builds its Go tools from tools/deploy once (about 2 min cold); tests/deploy runs the same checks under pytest too.
validate-deploy: install
	$(BIN)/python tools/deploy/validate.py

down:
	$(BIN)/psflow dev down

clean: down
	rm -rf .psflow
