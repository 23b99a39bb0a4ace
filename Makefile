VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: run test lint browser bench soak web-vendor clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/lunard serve

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check lunard tests bench
	$(VENV)/bin/mypy

# Debian's chromium for the dashboard's browser tests (never `playwright install`).
browser:
	command -v chromium >/dev/null || apt-get install -y chromium || (apt-get update && apt-get install -y chromium)

test: $(VENV)/.installed lint browser
	$(VENV)/bin/pytest -q

WRK := command -v wrk >/dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)

bench: $(VENV)/.installed
	$(WRK)
	$(PY) -m bench

soak: $(VENV)/.installed
	$(WRK)
	$(PY) -m bench.soak

# Refresh the dashboard's pinned third-party files from the npm registry (needs node/npm).
web-vendor: $(VENV)/.installed
	$(PY) -m lunard.web.refresh_vendor

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
