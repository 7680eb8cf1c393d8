# Encore: `make run` serves the demo, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench cluster capacity chaos soak messages install worker chromium axe fanout gettext

install: $(STAMP)

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Encore needs Python 3.11+"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "Python could not make a virtual environment: install Debian's python3-venv (apt-get install -y python3-venv), then run make again." >&2; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# The worker (live tallies, checkpoints, retention, notification events) and a task
# worker (notification fan-out and mail, tasks kept in the database) run beside the web
# server and stop with it.
run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "Serving Encore on http://127.0.0.1:$(PORT)/ (mail goes to var/mail/)"
	@trap 'kill $$worker $$tasks 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py encore_worker & worker=$$!; \
	$(PY) manage.py db_worker --queue-name '*' --no-reload & tasks=$$!; \
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

test: $(STAMP) chromium axe gettext
	CHROMIUM=$(CHROMIUM) $(PY) -m pytest

# The browser tests (tests/fans/test_browser.py) drive Debian's Chromium: browsers cannot
# be downloaded any other way here. When it is missing, root gets it from apt (as .ci/run
# did); anyone else is told in one line what to install. Never a silent skip.
CHROMIUM ?= /usr/bin/chromium
# Fonts: Korean, Japanese and Chinese (Noto CJK) and Thai (TLWG), so that the journeys'
# screenshots show the fans' scripts, not empty boxes.
CHROMIUM_PACKAGES := chromium fonts-noto-cjk fonts-thai-tlwg

chromium:
	@test -x $(CHROMIUM) && fc-list :lang=ko | grep -q . && fc-list :lang=th | grep -q . && exit 0; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "make test needs Chromium at $(CHROMIUM) and CJK and Thai fonts for the browser tests: install Debian's packages $(CHROMIUM_PACKAGES) (sudo apt-get install -y $(CHROMIUM_PACKAGES)), then run make test again." >&2; \
	  exit 1; \
	fi; \
	echo "Chromium at $(CHROMIUM) or its CJK and Thai fonts are missing: installing $(CHROMIUM_PACKAGES) with apt-get"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq $(CHROMIUM_PACKAGES) >/dev/null || exit 1; \
	test -x $(CHROMIUM) || { echo "apt-get installed $(CHROMIUM_PACKAGES) but $(CHROMIUM) is still missing" >&2; exit 1; }

# The accessibility test (tests/ops/test_accessibility.py) injects axe-core, pinned in
# package.json and package-lock.json and installed with `npm ci` into node_modules/ (git
# ignored). Without node and npm, root gets Debian's nodejs and npm from apt (as for
# Chromium); anyone else is told in one line what to install.
AXE := node_modules/axe-core/axe.min.js
NODE_PACKAGES := nodejs npm

axe: $(AXE)

$(AXE): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	    echo "make test needs npm to install axe-core for the accessibility test: install Debian's packages $(NODE_PACKAGES) (sudo apt-get install -y $(NODE_PACKAGES)), then run make test again." >&2; \
	    exit 1; \
	  fi; \
	  echo "npm is missing: installing $(NODE_PACKAGES) with apt-get"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq $(NODE_PACKAGES) >/dev/null || exit 1; \
	}
	npm ci --no-audit --no-fund --loglevel=error
	@test -f $(AXE) && touch $(AXE)

# makemessages and the catalogue check (tests/ops/test_translations.py) need GNU gettext
# (xgettext, msgmerge, msgfmt): Debian's gettext package, from apt when root, as above.
gettext:
	@command -v xgettext >/dev/null 2>&1 && command -v msgmerge >/dev/null 2>&1 && command -v msgfmt >/dev/null 2>&1 && exit 0; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "make needs GNU gettext (xgettext, msgmerge, msgfmt) for the translation catalogues: install Debian's package gettext (sudo apt-get install -y gettext), then run make again." >&2; \
	  exit 1; \
	fi; \
	echo "GNU gettext is missing: installing gettext with apt-get"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq gettext >/dev/null || exit 1

# ruff (checks and format), then the architecture's borders (import-linter contracts
# in pyproject.toml).
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# Catalogues: every language of settings.LANGUAGES (locale/<ll>/), brought up to date with
# the code and templates, then compiled; the .mo files are committed, so a fresh clone
# serves every language without gettext. Entries no longer in the code are dropped.
messages: $(STAMP) gettext
	$(PY) manage.py makemessages --all --no-obsolete --ignore=.venv --ignore=var --ignore=node_modules
	$(PY) manage.py compilemessages --ignore=.venv --ignore=var --ignore=node_modules

# Speed on PostgreSQL + Redis with gunicorn, driven by wrk over loopback: votes (spread,
# hot), results reads while votes flow, and bare-Django baselines of the same run, with
# a ballot-for-ballot check of every acknowledged vote (exit 1 when one is lost or
# doubled). Report in bench/results/latest.{md,json} (docs/benchmarks.md), about 2.5 min.
# DATABASE_URL and REDIS_URL default to encore_bench and Redis db 9; BENCH_SECONDS=10.
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(PY) -m bench.run

# Beyond one box on this machine: HAProxy, two web nodes, PostgreSQL primary with a
# synchronous standby, Redis; a vote load across a crash of the primary and a promotion
# (cluster/run.py, docs/scaling.md). Root on Debian: installs HAProxy and wrk with apt.
cluster: $(STAMP)
	@command -v haproxy >/dev/null 2>&1 && command -v wrk >/dev/null 2>&1 || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq haproxy wrk >/dev/null; }
	$(PY) cluster/run.py

# What one PostgreSQL and one Redis core sustain of the vote (cluster/capacity.py): pgbench
# with the vote statement, alone and with a synchronous standby; redis-benchmark with the
# vote's gate script. Inputs of docs/scaling.md.
capacity: $(STAMP)
	$(PY) cluster/capacity.py

# Votes across crashes (cluster/chaos.py, docs/reliability.md): own PostgreSQL, Redis and
# gunicorn; fans that retry with their Idempotency-Key while a worker is killed -9,
# PostgreSQL is stopped immediately and started again, and Redis is replaced by an empty
# one. Exit 1 if an acknowledged vote is lost or a vote doubled. About 2 minutes;
# CHAOS_SECONDS (45) is the length of the vote load.
chaos: $(STAMP)
	$(PY) cluster/chaos.py

# A bounded soak (cluster/soak.py, docs/reliability.md): mixed fan traffic (votes, poll
# reads, results, receipts) from wrk against gunicorn on own PostgreSQL and Redis, in
# one-minute windows; p99 and peak RSS per worker at the start and at the end, exit 1
# when a worker's RSS grew more than 20 %. SOAK_SECONDS (600) is its length.
soak: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(PY) cluster/soak.py

# Notification fan-out to 100,000 recipients on PostgreSQL through the real task worker
# (bench/fanout.py): time, the worker's peak RSS, rows; then the same with the worker
# killed (SIGKILL) mid fan-out and started again: exactly one notification per fan.
# Its own database: FANOUT_DATABASE_URL (postgres://postgres@127.0.0.1:5432/encore_fanout,
# dropped and made anew); FANOUT_RECIPIENTS=100000.
fanout: $(STAMP)
	$(PY) -m bench.fanout
