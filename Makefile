# One-command set-up: every target creates or reuses the virtual environment.
# Chainer 7.8.1's setup.py imports pkg_resources, so it is built without build
# isolation against setuptools<81; it also needs numpy<2 (requirements.txt).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip --disable-pip-version-check
export MPLBACKEND := Agg

.PHONY: install demo lint test bench

$(VENV)/.installed: requirements.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q 'setuptools<81' wheel
	$(PIP) install -q --no-build-isolation -r requirements.txt
	$(PIP) install -q --no-build-isolation --no-deps -e .
	touch $@

install: $(VENV)/.installed

lint: install
	$(VENV)/bin/flake8 saliency_ext tests examples scripts setup.py

test: install
	$(PY) -m pytest -q tests

demo: install
	$(PY) examples/run_all.py

bench: install
	$(PY) scripts/benchmark_calculators.py
	$(PY) scripts/benchmark_visualizers.py
	$(PY) scripts/benchmark_report.py
