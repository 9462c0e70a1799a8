# `make serve`: install and serve on http://localhost:6543 (file storage, SQLite);
#   `make serve HOST=0.0.0.0 PORT=8080` listens elsewhere.
# `make test`: install everything the tests need, then run the whole suite.
# `make bench`: the repo's own benchmark at scale (see bench/scale.py).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT := $(shell [ "$$(id -u)" = 0 ] && echo apt-get || echo sudo apt-get)
AZURITE := .tools/node_modules/.bin/azurite-blob

.PHONY: serve test lint clean bench

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  $(APT) update && $(APT) install -y python3-venv python3-pip && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	@# slapd for the ldap tests; libldap2-dev and libsasl2-dev to build python-ldap.
	@{ [ -x /usr/sbin/slapd ] && dpkg -s ldap-utils libldap2-dev libsasl2-dev >/dev/null 2>&1; } || \
	  { $(APT) update && DEBIAN_FRONTEND=noninteractive $(APT) install -y slapd ldap-utils libldap2-dev libsasl2-dev; }
	@# chromium for the browser tests (Playwright drives it; no browser download).
	@command -v chromium >/dev/null || { $(APT) update && DEBIAN_FRONTEND=noninteractive $(APT) install -y chromium; }
	@# nginx for the deployment tests (the shipped deploy/nginx.conf in front of the app).
	@[ -x /usr/sbin/nginx ] || { $(APT) update && DEBIAN_FRONTEND=noninteractive $(APT) install -y nginx-light; }
	@# redis-server and redis-cli start a throw-away Redis Cluster for the contract tests.
	@{ command -v redis-server && command -v redis-cli; } >/dev/null || { $(APT) update && DEBIAN_FRONTEND=noninteractive $(APT) install -y redis-server redis-tools; }
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

$(AZURITE):
	@command -v npm >/dev/null || { $(APT) update && $(APT) install -y nodejs npm; }
	npm install --prefix .tools --no-audit --no-fund --loglevel=error azurite@3

# HOST and PORT count only on make's command line: tcsh exports HOST (the machine's name)
# and hosting platforms export PORT, which must not move the server silently.
from_command_line = $(if $(filter command line,$(origin $(1))),$(2)=$($(1)))
SERVE_VARS = $(call from_command_line,HOST,host) $(call from_command_line,PORT,port)

serve: $(VENV)/.installed
	$(BIN)/pserve development.ini $(SERVE_VARS)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check pypicloud tests
	$(BIN)/mypy

test: $(VENV)/.test-installed $(AZURITE)
	$(BIN)/ruff check pypicloud tests
	$(BIN)/mypy
	$(BIN)/pytest

# `make bench`: this server at 1,000 and 10,000 projects with Basic auth, the start-up over
#   100,000 stored files, and memory (bench/scale.py prints a table). Not part of `make test`.
bench: $(VENV)/.test-installed
	@command -v wrk >/dev/null || { $(APT) update && $(APT) install -y wrk; }
	$(BIN)/python bench/scale.py

clean:
	rm -rf $(VENV) .tools data
