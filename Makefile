# The two commands: `make run` and `make test`. Everything else here serves them.
HOST ?= 127.0.0.1
PORT ?= 8000
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NEW_SITE := site.new
export MAILER_SITE_URL ?= http://$(HOST):$(PORT)
export NO_MKDOCS_2_WARNING := 1

.PHONY: run test build preview bench clean

$(BIN)/mailer: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,postgres]"
	touch $@

## Build the site and serve site and service on one origin, with an outbox worker beside it.
## gunicorn takes deploy/gunicorn.conf.py (its access log masks the tokens in links); the
## address and workers of `mailer serve` win over the file's.
run: $(BIN)/mailer
	$(BIN)/mailer db upgrade
	rm -rf $(NEW_SITE)
	$(BIN)/mkdocs build --quiet -d $(NEW_SITE)
	$(BIN)/mailer build-site $(NEW_SITE)
	@echo "Site en service: http://$(HOST):$(PORT)/"
	$(BIN)/mailer worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	GUNICORN_CMD_ARGS="--config deploy/gunicorn.conf.py" \
	$(BIN)/mailer serve --host $(HOST) --port $(PORT)

## Lint and run the whole test suite, browser tests included.
test: $(BIN)/mailer
	$(BIN)/ruff check .
	$(BIN)/pytest -q

## Build the static site into site/ (compressed, inline scripts hashed for the CSP), and
## security-headers.conf for nginx. The new build replaces site/ only once it is complete.
build: $(BIN)/mailer
	$(BIN)/mailer db upgrade
	rm -rf $(NEW_SITE)
	$(BIN)/mkdocs build --strict -d $(NEW_SITE)
	$(BIN)/mailer build-site $(NEW_SITE)

## Live preview for editing content/: reloads on every save.
preview: $(BIN)/mailer
	$(BIN)/mkdocs serve --dev-addr $(HOST):8001

## Benchmarks (not tests): each prints ours against a baseline measured in the same run.
bench: $(BIN)/mailer
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) site $(NEW_SITE) security-headers.conf .pytest_cache .ruff_cache
