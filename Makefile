# Luthien: the two commands of the quick start are `make run` and `make test`.
# The newest supported CPython (3.13, 3.12, then 3.11) that runs: on the PATH first, then pyenv's
# installs (a pyenv shim on the PATH may exist without working). `make PYTHON=...` overrides.
# 3.13 is the fastest (docs/performance.md).
SUPPORTED_PYTHONS := 3.13 3.12 3.11
PYTHON ?= $(shell for v in $(SUPPORTED_PYTHONS); do \
	for p in python$$v $$(pyenv root 2>/dev/null)/versions/$$v.*/bin/python$$v; do \
	if $$p -c '' >/dev/null 2>&1; then echo $$p; exit 0; fi; done; done; echo python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
# The real Claude Code CLI, for the end-to-end tests (a native binary from the npm registry).
CLAUDE_CODE_VERSION := 2.1.332
CLAUDE_CODE := .cache/npm/.claude-code-$(CLAUDE_CODE_VERSION)
# The real Codex CLI, for the end-to-end tests of the Responses API (also a native binary from npm).
CODEX_VERSION := 0.171.0
CODEX := .cache/npm/.codex-$(CODEX_VERSION)
# The mock servers the official SDKs' own suites run against (tests/e2e/test_sdk_suites.py), generated
# from the providers' OpenAPI specs: Steady for OpenAI, Prism for Anthropic.
STEADY_VERSION := 0.22.2
PRISM_VERSION := 5.16.1
SDK_MOCKS := .cache/npm/.sdk-mocks-$(STEADY_VERSION)-$(PRISM_VERSION)
# Debian's Chromium drives the browser tests (Playwright never downloads a browser of its own).
CHROMIUM := /usr/bin/chromium
# Debian's nginx is the load balancer in front of two replicas in tests/e2e/test_replicas_nginx.py.
NGINX := /usr/sbin/nginx

.PHONY: run test lint typecheck format docs bench bench-peers clean browser nginx mutate mutate-full

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
	$(BIN)/ruff check src tests bench mutation
	$(BIN)/ruff format --check src tests bench mutation
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/pyright

format: $(STAMP)
	$(BIN)/ruff format src tests bench mutation
	$(BIN)/ruff check --fix src tests bench mutation

$(CLAUDE_CODE):
	npm install --no-audit --no-fund --prefix .cache/npm @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION)
	touch $@

$(CODEX):
	npm install --no-audit --no-fund --prefix .cache/npm @openai/codex@$(CODEX_VERSION)
	touch $@

$(SDK_MOCKS):
	npm install --no-audit --no-fund --prefix .cache/npm @stdy/cli@$(STEADY_VERSION) \
		@stainless-api/prism-cli@$(PRISM_VERSION)
	touch $@

# Installed with apt, non-interactively, when we are root (CI containers) or have password-less sudo.
# In CI (`CI` set) a failed install fails the build; elsewhere the browser tests are skipped instead.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else SUDO=none; fi; \
	if [ "$$SUDO" != none ] && $$SUDO apt-get update -q \
		&& $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; then exit 0; fi; \
	if [ -n "$$CI" ]; then echo "browser tests need Debian's Chromium and it could not be installed" >&2; exit 1; fi; \
	echo "warning: Debian's Chromium is not installed (sudo apt-get install chromium): browser tests will be skipped" >&2

browser: $(CHROMIUM)

# Installed the same way; only the binary is used (the test runs it with its own config, as any user).
$(NGINX):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else SUDO=none; fi; \
	if [ "$$SUDO" != none ] && $$SUDO apt-get update -q \
		&& $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx; then exit 0; fi; \
	if [ -n "$$CI" ]; then echo "the load-balancer test needs Debian's nginx and it could not be installed" >&2; exit 1; fi; \
	echo "warning: Debian's nginx is not installed (sudo apt-get install nginx): the load-balancer test will be skipped" >&2

nginx: $(NGINX)

test: lint typecheck $(CLAUDE_CODE) $(CODEX) $(SDK_MOCKS) $(CHROMIUM) $(NGINX)
	rm -f .coverage .coverage.*
	$(BIN)/python -m coverage run -m pytest
	$(BIN)/python -m coverage combine --quiet
	$(BIN)/python -m coverage report

# Regenerates the settings table in README.md and .env.example from luthien.settings.
docs: $(VENV)/.installed
	$(BIN)/luthien settings-docs --write

bench: $(STAMP)
	$(BIN)/python bench/run.py --workers 2
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/records.py

# Peer proxies measured beside Luthien (`bench/run.py --peers litellm`), in a virtualenv of their own
# under .cache/: never dependencies of Luthien. docs/performance.md#peers
PEERS_VENV := .cache/bench-peers
LITELLM_SPEC ?= litellm[proxy]

$(PEERS_VENV)/bin/litellm:
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet '$(LITELLM_SPEC)'

bench-peers: $(STAMP) $(PEERS_VENV)/bin/litellm
	$(BIN)/python bench/run.py --workers 2 --peers litellm

# Mutation testing of the safety-critical modules ([tool.mutmut] in pyproject.toml): tens of minutes,
# so neither in CI nor in `make test`. mutmut mutates inside functions (every mutant is run again, not
# taken from an earlier run's cache), mutation/constants.py the module-level constants and patterns;
# block_commands' 1,300-odd pattern mutants by the in-process pre-screen (one pytest start each would
# take hours: `make mutate-full` does that too); then the score table. Niced: it must not starve the
# rest of the machine. docs/testing.md#mutation-testing
MUTATE_NICE ?= nice -n 19
MUTATE_CHILDREN ?= 1
PRESCREENED := src/luthien/policies/block_commands.py

mutate: $(STAMP)
	$(MUTATE_NICE) $(BIN)/mutmut run --max-children $(MUTATE_CHILDREN) 'luthien.*'
	$(MUTATE_NICE) $(BIN)/python mutation/constants.py --skip $(PRESCREENED)
	$(MUTATE_NICE) $(BIN)/python mutation/prescreen.py --json mutants/prescreen.json
	$(BIN)/python mutation/report.py

mutate-full: $(STAMP)
	$(MUTATE_NICE) $(BIN)/mutmut run --max-children $(MUTATE_CHILDREN) 'luthien.*'
	$(MUTATE_NICE) $(BIN)/python mutation/constants.py
	$(BIN)/python mutation/report.py

clean:
	rm -rf $(VENV) .cache .coverage .coverage.* .pytest_cache mutants
