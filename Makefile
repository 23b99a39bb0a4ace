VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

# `make install`: a venv at $(PREFIX) with lunard (built from this checkout, not editable),
# the systemd units, and /etc/lunard/lunard.toml if there is none. Nothing is started.
# DESTDIR stages everything under another root (tests: no root needed). bin/lunard and
# bin/lunar are small sh launchers of the venv's python, so a staged venv still runs once
# moved to $(PREFIX) (pip's own scripts in bin/ keep the staging path in their #! line).
PREFIX ?= /opt/lunard
DESTDIR ?=
SYSCONFDIR ?= /etc
UNITDIR ?= $(SYSCONFDIR)/systemd/system
CONFDIR := $(SYSCONFDIR)/lunard
# PURGE=1: `make uninstall` also removes $(CONFDIR) (the data, /var/lib/lunard, stays).
PURGE ?=

.PHONY: run test lint browser haproxy postgres bench bench-cluster soak web-vendor clean install uninstall

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,postgres]'
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/lunard serve

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check lunard tests bench
	$(VENV)/bin/mypy

# Debian's chromium for the dashboard's browser tests (never `playwright install`).
browser:
	command -v chromium >/dev/null || apt-get install -y chromium || (apt-get update && apt-get install -y chromium)

# Debian's HAProxy for the cluster/drain tests.
haproxy:
	command -v haproxy >/dev/null || apt-get install -y haproxy || (apt-get update && apt-get install -y haproxy)

# Debian's PostgreSQL server for the state-backend tests (tests/pg.py runs initdb/pg_ctl).
postgres:
	command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
		|| apt-get install -y postgresql || (apt-get update && apt-get install -y postgresql)

test: $(VENV)/.installed lint browser haproxy postgres
	$(VENV)/bin/pytest -q

WRK := command -v wrk >/dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)

bench: $(VENV)/.installed
	$(WRK)
	$(PY) -m bench

# 1, 2, 3 nodes behind HAProxy on one throwaway PostgreSQL, on this machine (bench/cluster.py).
bench-cluster: $(VENV)/.installed haproxy postgres
	$(WRK)
	$(PY) -m bench.cluster

soak: $(VENV)/.installed
	$(WRK)
	$(PY) -m bench.soak

# Refresh the dashboard's pinned third-party files from the npm registry (needs node/npm).
web-vendor: $(VENV)/.installed
	$(PY) -m lunard.web.refresh_vendor

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

install:
	@set -e; \
	root='$(DESTDIR)'; prefix='$(PREFIX)'; venv="$$root$$prefix"; \
	units="$$root$(UNITDIR)"; conf="$$root$(CONFDIR)"; \
	src=$$(mktemp -d); trap 'rm -rf "$$src"' EXIT; \
	tar -c --exclude=__pycache__ pyproject.toml README.md lunard | tar -x -C "$$src"; \
	echo "venv $$venv"; \
	$(PYTHON) -m venv "$$venv"; \
	"$$venv/bin/python" -m pip install -q --disable-pip-version-check "$$src"; \
	here='"$$(dirname -- "$$(readlink -f -- "$$0")")"'; \
	printf '#!/bin/sh\n# make install: this venv'"'"'s python, wherever the venv now is\nexec %s/python -P -m lunard "$$@"\n' \
		"$$here" > "$$venv/bin/lunard"; \
	printf '#!/bin/sh\nexec %s/python -P -c '"'"'import sys; from lunard.client.cli import main; sys.exit(main())'"'"' "$$@"\n' \
		"$$here" > "$$venv/bin/lunar"; \
	install -d -m 0755 "$$units"; \
	sed 's|^ExecStart=[^ ]*/lunard |ExecStart='"$$prefix"'/bin/lunard |' systemd/lunard.service \
		> "$$units/lunard.service.tmp"; \
	grep -q '^ExecStart='"$$prefix"'/bin/lunard ' "$$units/lunard.service.tmp" \
		|| { echo "install: cannot rewrite ExecStart in systemd/lunard.service" >&2; exit 1; }; \
	chmod 0644 "$$units/lunard.service.tmp"; mv "$$units/lunard.service.tmp" "$$units/lunard.service"; \
	install -m 0644 systemd/lunard.socket "$$units/lunard.socket"; \
	echo "units $$units/lunard.service $$units/lunard.socket"; \
	install -d -m 0755 "$$conf"; \
	if [ -e "$$conf/lunard.toml" ]; then \
		echo "config $$conf/lunard.toml exists, kept"; \
	else \
		install -m 0644 config/lunard.toml "$$conf/lunard.toml"; echo "config $$conf/lunard.toml"; \
	fi; \
	echo "Nothing was started. Next: systemctl daemon-reload && systemctl enable --now lunard"

uninstall:
	@set -e; \
	root='$(DESTDIR)'; venv="$$root$(PREFIX)"; units="$$root$(UNITDIR)"; conf="$$root$(CONFDIR)"; \
	if [ -e "$$venv" ] && [ ! -e "$$venv/pyvenv.cfg" ]; then \
		echo "uninstall: $$venv is not a venv; not removing it" >&2; exit 1; \
	fi; \
	rm -rf "$$venv"; rm -f "$$units/lunard.service" "$$units/lunard.socket"; \
	if [ -n '$(PURGE)' ]; then rm -rf "$$conf"; echo "removed $$venv, the units and $$conf"; \
	else echo "removed $$venv and the units; kept $$conf/lunard.toml (PURGE=1 removes it)"; fi; \
	echo "If lunard was enabled: systemctl disable --now lunard lunard.socket; systemctl daemon-reload"
