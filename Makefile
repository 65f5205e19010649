# Every target creates and uses .venv as needed (CONTRACT §5).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: serve demo test lint unit integration bench clean

$(STAMP): requirements.txt functions/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

serve: $(STAMP)
	cd functions && ../$(PY) -m video_monitoring.local.stack

demo: $(STAMP)
	cd functions && ../$(PY) -m video_monitoring.local.run_demo $(DEMO_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check functions tests bench
	$(VENV)/bin/ruff format --check functions tests bench
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

integration: $(STAMP)
	$(PY) -m pytest tests/integration tests/e2e -q

test: lint
	$(PY) -m pytest tests -q -rs

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .stack .mypy_cache .ruff_cache .pytest_cache
