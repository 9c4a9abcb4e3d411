# Two commands a newcomer needs: `make run` and `make test`. Everything else is plumbing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install db clean chromium

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Debian's chromium for the desk's browser test (needs root; CI's .ci/run does the same).
chromium:
	test -x /usr/bin/chromium || (apt-get update -q && apt-get install -y -q chromium)

db: $(STAMP)
	$(BIN)/python -m bot db upgrade

## Run the bot: schema up to date, sample grid loaded into an empty database, then the main job.
run: db
	$(BIN)/python -m bot grid load-sample --if-empty
	$(BIN)/python -m bot run

## The whole test suite (SQLite; PostgreSQL too where JINGTU_TEST_POSTGRES_URL reaches a server).
test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
