# The two commands: `make run` and `make test`. Everything else here serves them.
HOST ?= 127.0.0.1
PORT ?= 8000
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NEW_SITE := site.new
# The count and list the pages show, written by the service before each build.
SITE_DATA := instance/site-data.yml
export MAILER_SITE_URL ?= http://$(HOST):$(PORT)
export NO_MKDOCS_2_WARNING := 1

.PHONY: run test build preview zensical bench clean

$(BIN)/mailer: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,postgres]"
	touch $@

## Build the site and serve site and service on one origin, with an outbox worker beside it.
## `mailer serve` runs gunicorn with deploy/gunicorn.conf.py (its access log masks the tokens
## in links); its address and workers win over the file's.
run: $(BIN)/mailer
	$(BIN)/mailer db upgrade
	$(BIN)/mailer site-data $(SITE_DATA)
	rm -rf $(NEW_SITE)
	MAILER_SITE_DATA=$(SITE_DATA) $(BIN)/mkdocs build --quiet -d $(NEW_SITE)
	$(BIN)/mailer build-site $(NEW_SITE)
	@echo "Site en service: http://$(HOST):$(PORT)/"
	$(BIN)/mailer worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/mailer serve --host $(HOST) --port $(PORT)

## Lint and run the whole test suite, browser tests included.
test: $(BIN)/mailer
	$(BIN)/ruff check .
	$(BIN)/pytest -q

## Build the static site into site/ (compressed, inline scripts hashed for the CSP), and
## security-headers.conf for nginx. The new build replaces site/ only once it is complete.
build: $(BIN)/mailer
	$(BIN)/mailer db upgrade
	$(BIN)/mailer site-data $(SITE_DATA)
	rm -rf $(NEW_SITE)
	MAILER_SITE_DATA=$(SITE_DATA) $(BIN)/mkdocs build --strict -d $(NEW_SITE)
	$(BIN)/mailer build-site $(NEW_SITE)

## Live preview for editing content/: reloads on every save in content/, templates/ and
## mkdocs.yml. It shows the counter and list of the last `mailer site-data` (else the source's 25).
preview: $(BIN)/mailer
	MAILER_SITE_DATA=$$(test -f instance/site-data.yml && echo instance/site-data.yml \
	  || echo content/deelnemers.yml) \
	$(BIN)/mkdocs serve --dev-addr $(HOST):8001 --watch content --watch templates --watch mkdocs.yml

## Build the site with Zensical, Material's successor, beside MkDocs' build from the same
## mkdocs.yml and data, and list the pages whose title or text differ. Not part of `make test`.
ZENSICAL_DIR := instance/zensical
$(ZENSICAL_DIR)/venv/bin/zensical:
	$(PYTHON) -m venv $(ZENSICAL_DIR)/venv
	$(ZENSICAL_DIR)/venv/bin/pip install --quiet zensical
	touch $@

zensical: $(BIN)/mailer $(ZENSICAL_DIR)/venv/bin/zensical
	rm -rf $(ZENSICAL_DIR)/mkdocs $(ZENSICAL_DIR)/site
	$(BIN)/mkdocs build --quiet -d $(ZENSICAL_DIR)/mkdocs
	BUILD_SITE_DIR=$(ZENSICAL_DIR)/site $(ZENSICAL_DIR)/venv/bin/zensical build
	$(BIN)/python tests/site_helpers.py $(ZENSICAL_DIR)/mkdocs $(ZENSICAL_DIR)/site

## Benchmarks (not tests): each prints ours against a baseline measured in the same run.
bench: $(BIN)/mailer
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) site $(NEW_SITE) security-headers.conf .pytest_cache .ruff_cache
