# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# tinygrad's CPU backend compiles with clang; NOOPT/PARALLEL trade peak speed for a much faster first compile.
export PARALLEL ?= 0

.PHONY: all demo test test-fast lint bench clean clang venv

all: test

clang:
	@command -v clang >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "clang not found: installing it with apt-get (tinygrad's CPU backend needs it)"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null; \
	  else \
	    echo "error: clang is missing and this is not root: install clang (e.g. 'sudo apt-get install clang') and rerun" >&2; exit 1; \
	  fi; }
	@command -v clang >/dev/null 2>&1 || { echo "error: clang install failed: install clang by hand and rerun" >&2; exit 1; }

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

venv: clang $(BIN)/python

# every extra: CI runs the Ray and Optuna tests with the real libraries
test: venv
	$(BIN)/pip install -q -e ".[dev,plot,examples,ray,optuna]"
	$(BIN)/python -m pytest -q -x --durations=15 tests

demo: venv
	$(BIN)/pip install -q -e ".[plot,examples]"
	$(BIN)/python examples/tune_mlp.py

lint: venv
	$(BIN)/pip install -q ruff
	$(BIN)/ruff check tinybo tests benchmarks examples

bench: venv
	$(BIN)/pip install -q -e ".[dev,plot]"
	$(BIN)/python -m benchmarks.run --problems branin,hartmann6,ackley5 --strategies gp,random --seeds 10

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .hypothesis
