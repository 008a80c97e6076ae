# One-command set-up: every target creates or reuses the virtual environment.
# Chainer 7.8.1's setup.py imports pkg_resources, so it is built without build
# isolation against setuptools<81; it also needs numpy<2 (requirements.txt).
PYTHON ?= python3
VENV ?= .venv
# GPU: CuPy for the machine's CUDA (cupy-cuda12x for CUDA 12, cupy-cuda13x for 13),
# constrained by requirements.txt: CuPy 14 needs numpy 2, so pip picks CuPy 13.
CUPY ?= cupy-cuda12x
# A machine without the package registries installs from a folder of wheels
# (WHEELS=dir) and may reuse its own packages (VENV_OPTIONS=--system-site-packages).
WHEELS ?=
VENV_OPTIONS ?=
PIP_SOURCE := $(if $(WHEELS),--no-index --find-links $(WHEELS))
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip --disable-pip-version-check
export MPLBACKEND := Agg

.PHONY: install install-gpu demo lint test test-all test-mpi test-gpu bench

$(VENV)/.installed: requirements.txt setup.py
	$(PYTHON) -m venv $(VENV_OPTIONS) $(VENV)
	$(PIP) install -q $(PIP_SOURCE) 'setuptools<81' wheel
	$(PIP) install -q $(PIP_SOURCE) --no-build-isolation -r requirements.txt
	$(PIP) install -q --no-build-isolation --no-deps -e .
	touch $@

install: $(VENV)/.installed

install-gpu: install
	$(PIP) install -q $(PIP_SOURCE) -c requirements.txt '$(CUPY)'

lint: install
	$(VENV)/bin/flake8 saliency_ext tests examples scripts setup.py

# The suite includes the multi-process tests (tests/distributed): they start
# `mpiexec -n 2` from the virtual environment (MPICH's wheel, requirements.txt).
# `test` skips the slow part of the fault suite (SIGKILL series, a full tmpfs);
# `test-all`, which CI runs, includes it.
test: install
	$(PY) -m pytest -q -m "not slow" tests

test-all: install
	$(PY) -m pytest -q tests

test-mpi: install
	$(PY) -m pytest -q tests/distributed

# The tests that take a device run on GPU 0; the others as in `make test`.
test-gpu: install-gpu
	$(PY) -m pytest -q -m "not slow" tests --device 0

demo: install
	$(PY) examples/run_all.py

bench: install
	$(PY) scripts/benchmark_calculators.py
	$(PY) scripts/benchmark_visualizers.py
	$(PY) scripts/benchmark_report.py
	$(VENV)/bin/mpiexec -n 2 $(PY) scripts/benchmark_report_mn.py
	$(PY) scripts/benchmark_memory.py
	$(PY) scripts/benchmark_index.py
