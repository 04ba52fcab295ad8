# Set-up is part of every target: a fresh machine needs only python3 (3.11+) and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CHROMIUM ?= /usr/bin/chromium
REDIS_SERVER ?= /usr/bin/redis-server
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test demo install lock clean

## run: the daemon on SQLite (data/crawler.db) with the sources in config/
run: $(STAMP)
	$(BIN)/crawler run

## test: the whole test suite (installs Debian's chromium and redis-server for their tests when missing)
test: $(STAMP) $(CHROMIUM) $(REDIS_SERVER)
	$(BIN)/python -m pytest

## install: only create .venv with the locked dependencies
install: $(STAMP)

## demo: start the portal simulator and crawl it into data/demo.db
demo: $(STAMP)
	$(BIN)/crawler demo

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test]'
	touch $(STAMP)

# The browser test drives Debian's Chromium (no browser download); a CJK font makes its screenshot legible.
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium fonts-wqy-zenhei

# The scale-out tests start their own redis-server on a free loopback port (Debian's package).
$(REDIS_SERVER):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends redis-server
	$(SUDO) systemctl disable --now redis-server 2>/dev/null || true  # the tests start their own

## lock: re-resolve the pinned ranges of pyproject.toml into requirements.lock
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade "pip>=24"
	.venv-lock/bin/python -m pip install --quiet -e '.[test]'
	(echo "# Exact versions tested in CI; regenerate with: make lock"; \
	 .venv-lock/bin/python -m pip freeze --exclude-editable | grep -v '^-e') > requirements.lock
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .pytest_cache
