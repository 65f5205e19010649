# Every target creates and uses .venv as needed (docs/interfaces.md §5).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The BigQuery API emulator in a virtualenv of its own (its pins must not leak into ours).
BQ_VENV := .venv-bq
BQ_STAMP := $(BQ_VENV)/.installed

# The Firebase CLI (its Auth emulator signs the console in locally), pinned in package-lock.json.
NODE_STAMP := node_modules/.installed
# functions/venv: what the Firebase CLI runs the functions with (its emulators and deploy).
FN_STAMP := functions/venv/.installed

.PHONY: serve demo test lint unit integration browser bench vendor clean monitoring

$(STAMP): requirements.txt functions/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

$(BQ_STAMP): requirements-bqemulator.txt
	test -x $(BQ_VENV)/bin/python || $(PYTHON) -m venv $(BQ_VENV)
	$(BQ_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-bqemulator.txt
	touch $(BQ_STAMP)

$(FN_STAMP): functions/requirements.txt
	test -x functions/venv/bin/python || $(PYTHON) -m venv functions/venv
	functions/venv/bin/python -m pip install --quiet --disable-pip-version-check -r functions/requirements.txt
	touch $(FN_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

serve: $(STAMP) $(BQ_STAMP) $(NODE_STAMP)
	PYTHONPATH=functions exec $(PY) -m local_stack.stack

demo: $(STAMP) $(BQ_STAMP) $(NODE_STAMP)
	PYTHONPATH=functions $(PY) -m local_stack.run_demo $(DEMO_ARGS)

# The console's JavaScript too: TypeScript checks its JSDoc types (tsconfig.json), Biome lints it.
lint: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/ruff check functions local_stack tests bench clients
	$(VENV)/bin/ruff format --check functions local_stack tests bench clients
	$(VENV)/bin/mypy
	node_modules/.bin/tsc --noEmit --checkJs -p tsconfig.json
	node_modules/.bin/biome lint --error-on-warnings

unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

integration: $(STAMP) $(BQ_STAMP) $(NODE_STAMP) $(FN_STAMP)
	$(PY) -m pytest tests/integration -q

# The console in a real browser (Debian's chromium; `apt-get install chromium` if it is missing).
browser: $(STAMP) $(BQ_STAMP) $(NODE_STAMP)
	$(PY) -m pytest tests/browser -q -rs

test: lint $(BQ_STAMP) $(NODE_STAMP) $(FN_STAMP)
	$(PY) -m pytest tests -q -rs

bench: $(STAMP) $(BQ_STAMP)
	$(PY) bench/run_all.py --table docs/benchmarks-latest.md

# Cloud Monitoring as code (docs/operations.md, Deploy): make monitoring PROJECT=<id>
# [MONITORING_ARGS=--dry-run]; the uptime check, its alert policy and the ERROR log metric.
monitoring: $(STAMP)
	PYTHONPATH=functions $(PY) -m video_monitoring.runtime.monitoring_as_code --project $(PROJECT) \
		--url $(or $(HEALTH_URL),https://$(PROJECT).web.app/api/health) $(MONITORING_ARGS)

# Copy the browser libraries at their pinned versions (package.json) into hosting/vendor; the
# copies are committed, so running the console needs no build step.
vendor: $(NODE_STAMP)
	cp node_modules/firebase/firebase-app.js node_modules/firebase/firebase-auth.js hosting/vendor/firebase/
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css node_modules/uplot/LICENSE hosting/vendor/uplot/

clean:
	rm -rf $(VENV) $(BQ_VENV) node_modules functions/venv .stack .mypy_cache .ruff_cache .pytest_cache
