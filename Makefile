# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# tinygrad's CPU backend compiles with clang; NOOPT/PARALLEL trade peak speed for a much faster first compile.
export PARALLEL ?= 0

.PHONY: all demo test test-fast lint bench bench-peers clean clang venv opencl

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

# pocl, an OpenCL runtime for the CPU, for tests/test_opencl.py (tinygrad's CL backend), visible ONLY to that test's child
# process through OCL_ICD_VENDORS=.ocl/vendors: the runtime library alone, never the package pocl-opencl-icd, which
# registers pocl in /etc/OpenCL/vendors for every process (tinygrad's Device.DEFAULT would become CL machine-wide).
# Not root or no apt-get: the OpenCL tests are skipped with a message, everything else runs.
OCL_VENDORS := .ocl/vendors
opencl:
	@lib=$$(ls /usr/lib/*/libpocl.so.2 /usr/lib/libpocl.so.2 2>/dev/null | head -1); \
	loader=$$(ls /usr/lib/*/libOpenCL.so.1 /usr/lib/libOpenCL.so.1 2>/dev/null | head -1); \
	if [ -z "$$lib" ] || [ -z "$$loader" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing pocl's OpenCL runtime for tests/test_opencl.py (libpocl2, ocl-icd-libopencl1; not registered system-wide)"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libpocl2 ocl-icd-libopencl1 >/dev/null; \
	    lib=$$(ls /usr/lib/*/libpocl.so.2 /usr/lib/libpocl.so.2 2>/dev/null | head -1); \
	  fi; \
	fi; \
	if [ -n "$$lib" ]; then mkdir -p $(OCL_VENDORS) && echo "$$lib" > $(OCL_VENDORS)/pocl.icd; \
	else echo "note: no pocl OpenCL runtime (not root, or apt-get failed): tests/test_opencl.py will be skipped (sudo apt-get install --no-install-recommends libpocl2 ocl-icd-libopencl1)"; fi; \
	if grep -qs pocl /etc/OpenCL/vendors/*.icd; then echo "note: pocl is registered system-wide (/etc/OpenCL/vendors): tinygrad's default device is CL for every process here; set DEV=CPU where it matters"; fi

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

venv: clang $(BIN)/python

# every extra: CI runs the Ray and Optuna tests with the real libraries; tests/test_opencl.py runs on pocl (see opencl)
test: venv opencl
	$(BIN)/pip install -q -e ".[dev,plot,examples,ray,optuna]"
	$(BIN)/python -m pytest -q -x --durations=15 tests

demo: venv
	$(BIN)/pip install -q -e ".[plot,examples]"
	$(BIN)/python examples/tune_mlp.py --compare

lint: venv
	$(BIN)/pip install -q ruff
	$(BIN)/ruff check tinybo tests benchmarks examples

bench: venv
	$(BIN)/pip install -q -e ".[dev,plot]"
	$(BIN)/python -m benchmarks.run --problems branin,hartmann6,ackley5 --strategies gp,random --seeds 10

# Peer libraries for the benchmarks, each in its own virtualenv (HEBO pins numpy < 1.25, which clashes with the others):
# $(PEER_VENVS)/peers (Optuna + greenlet + torch, for `benchmarks.run`; scikit-learn for the MLP on digits), $(PEER_VENVS)/hebo and $(PEER_VENVS)/smac (for
# `benchmarks.peers_external`). torch stays pinned: an unpinned install pulls a multi-GB CUDA build.
PEER_VENVS ?= $(HOME)/.venvs/tinybo-bench
# HEBO pins numpy 1.24, whose wheels stop at Python 3.11
PEER_PY ?= python3.11
TORCH ?= torch==2.13.0
bench-peers:
	test -x $(PEER_VENVS)/peers/bin/python || $(PEER_PY) -m venv $(PEER_VENVS)/peers
	$(PEER_VENVS)/peers/bin/pip install -q -e ".[bench,examples]" "$(TORCH)"
	test -x $(PEER_VENVS)/hebo/bin/python || $(PEER_PY) -m venv $(PEER_VENVS)/hebo
	$(PEER_VENVS)/hebo/bin/pip install -q numpy==1.24.4 "cython<3.1" wheel
	# pymoo 0.6.0 is a source package here: built against that numpy with Cython, else HEBO's NSGA-II runs uncompiled
	$(PEER_VENVS)/hebo/bin/pip install -q --no-build-isolation pymoo==0.6.0
	$(PEER_VENVS)/hebo/bin/pip install -q numpy==1.24.4 scipy==1.11.4 pandas==2.0.3 scikit-learn==1.3.2 GPy==1.13.2 pymoo==0.6.0 "$(TORCH)" hebo==0.3.6
	$(PEER_VENVS)/hebo/bin/python -c "from pymoo.util.function_loader import is_compiled; assert is_compiled(), 'pymoo is not compiled'"
	@command -v swig >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq swig >/dev/null; \
	  else echo "error: SMAC3's pyrfr needs swig: install swig (e.g. 'sudo apt-get install swig') and rerun" >&2; exit 1; fi; }
	test -x $(PEER_VENVS)/smac/bin/python || $(PEER_PY) -m venv $(PEER_VENVS)/smac
	$(PEER_VENVS)/smac/bin/pip install -q smac
	@echo "peer virtualenvs ready in $(PEER_VENVS): see benchmarks/README.md for the run commands"

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .hypothesis .ocl
