# Luthien: the two commands of the quick start are `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
# The real Claude Code CLI, for the end-to-end tests (a native binary from the npm registry).
CLAUDE_CODE_VERSION := 2.1.332
CLAUDE_CODE := .cache/npm/.claude-code-$(CLAUDE_CODE_VERSION)

.PHONY: run test lint typecheck format docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/luthien serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/pyright

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

$(CLAUDE_CODE):
	npm install --no-audit --no-fund --prefix .cache/npm @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION)
	touch $@

test: lint typecheck $(CLAUDE_CODE)
	$(BIN)/python -m pytest --cov --cov-report=term

# Regenerates the settings table in README.md and .env.example from luthien.settings.
docs: $(VENV)/.installed
	$(BIN)/luthien settings-docs --write

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/records.py

clean:
	rm -rf $(VENV) .cache .coverage .pytest_cache
