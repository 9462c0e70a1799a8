# `make serve`: install and serve on http://localhost:6543 (file storage, SQLite).
# `make test`: install everything the tests need, then run the whole suite.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT := $(shell [ "$$(id -u)" = 0 ] && echo apt-get || echo sudo apt-get)
AZURITE := .tools/node_modules/.bin/azurite-blob

.PHONY: serve test lint clean

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
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

$(AZURITE):
	@command -v npm >/dev/null || { $(APT) update && $(APT) install -y nodejs npm; }
	npm install --prefix .tools --no-audit --no-fund --loglevel=error azurite@3

serve: $(VENV)/.installed
	$(BIN)/pserve development.ini

lint: $(VENV)/.test-installed
	$(BIN)/ruff check pypicloud tests

test: $(VENV)/.test-installed $(AZURITE)
	$(BIN)/ruff check pypicloud tests
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .tools data
