# AWorld Runtime — every task a developer or CI needs. `make demo` and `make test` work on a
# fresh machine: they install what they need first (Python venv, npm and Go modules).

SHELL := /bin/bash
PY := .venv/bin/python
BUF := node_modules/.bin/buf
STAMP := .venv/.setup-stamp

.PHONY: setup proto proto-lint proto-breaking proto-check lint typecheck test test-python \
        test-typescript test-go demo serve bench soak clean

## setup: create .venv, install both Python packages (editable) and the dev tools, npm and Go modules
setup: $(STAMP)

$(STAMP): requirements-dev.txt python/aworld_client/pyproject.toml python/aworld_server/pyproject.toml engines/ray/pyproject.toml engines/spark/pyproject.toml package.json typescript/package.json go/go.mod go/tools/go.mod
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet -e python/aworld_client -e python/aworld_server
	$(PY) -m pip install --quiet -e 'engines/ray[ray]' -e 'engines/spark[spark]'
	npm ci --no-audit --no-fund --loglevel=error
	cd go && go mod download
	cd go/tools && go mod download
	touch $@

## proto: lint the contracts, check them against main for breaking changes, regenerate all code
proto: setup proto-lint proto-breaking
	$(PY) scripts/gen_python_proto.py
	$(BUF) generate

proto-lint: setup
	$(BUF) lint
	$(BUF) format --diff --exit-code

proto-breaking: setup
	@if git rev-parse --verify --quiet main >/dev/null && git cat-file -e main:buf.yaml 2>/dev/null; then \
	  $(BUF) breaking --against '.git#branch=main'; \
	else echo "proto-breaking: no buf.yaml on main yet, nothing to compare against"; fi

## proto-check: fail when the committed generated code differs from what the contracts generate
proto-check: setup proto-lint
	$(PY) scripts/check_generated.py

lint: setup
	.venv/bin/ruff check python engines tests bench scripts
	.venv/bin/ruff format --check python engines tests bench scripts
	.venv/bin/lint-imports
	$(PY) scripts/check_import_cycles.py aworld_server

typecheck: setup
	cd python/aworld_client && ../../.venv/bin/mypy --config-file ../../pyproject.toml -p aworld_client
	cd python/aworld_server && ../../.venv/bin/mypy --config-file ../../pyproject.toml -p aworld_server
	cd engines/ray && ../../.venv/bin/mypy --config-file ../../pyproject.toml -p aworld_engine_ray
	cd engines/spark && ../../.venv/bin/mypy --config-file ../../pyproject.toml -p aworld_engine_spark

## test: everything CI checks — contracts, generated code, lint, types, Python, TypeScript and Go
test: setup proto-check lint typecheck test-typescript test-go test-python

test-python: setup
	$(PY) -m pytest

test-typescript: setup
	npm -w typescript run typecheck
	npm -w typescript test

test-go: setup
	cd go && go vet ./... && go build ./... && go test ./...

## demo: a server, a remote worker process and a team of agents, watched live; then both
## processes are stopped (data under .aworld/demo/). Extra flags: make demo ARGS=--scripted
demo: setup
	.venv/bin/aworld demo $(ARGS)

## serve: run the server on the embedded defaults (127.0.0.1:50051, SQLite under .aworld/).
## Extra flags: make serve ARGS="--port 0 --log-level debug"
serve: setup
	.venv/bin/aworld serve $(ARGS)

## bench: run the benchmarks and print the numbers (recorded by hand in bench/RESULTS.md)
bench: setup
	@ls bench/*.py >/dev/null 2>&1 && for b in bench/bench_*.py; do $(PY) $$b || exit 1; done || echo "no benchmarks yet"

## soak: the chaos suite's faults (server SIGKILL/SIGTERM, worker SIGKILL/SIGSTOP) in rounds of
## 100 tasks for SOAK_SECONDS (default 600), each round checked against a fault-free run; prints
## the end state (submitted, completed, lost, duplicates, ...). E.g. SOAK_SECONDS=60 make soak
SOAK_SECONDS ?= 600
soak: setup
	$(PY) tests/chaos/soak.py --seconds $(SOAK_SECONDS) $(ARGS)

clean:
	rm -rf .venv node_modules typescript/dist .aworld
