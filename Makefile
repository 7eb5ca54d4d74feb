# Two entry points for a fresh machine with only python3, pip and make:
#   make demo  -- create .venv, install, run the main job end to end on a small synthetic population
#   make test  -- create .venv, install with test extras, run ruff, mypy and the whole test suite
#   make bench -- every benchmark at a small size (BENCH_ARGS="--size full" for the recorded sizes)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.pprl-installed
# mypy lives in its own environment: clkhash 0.18.3 pins mypy_extensions<0.5, which every
# mypy >= 1.0 conflicts with. It checks .venv's packages through --python-executable.
MYPY_VENV := .venv-mypy
MYPY_VERSION := 2.4.1
MYPY_STAMP := $(MYPY_VENV)/.installed-$(MYPY_VERSION)

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(MYPY_STAMP):
	test -x $(MYPY_VENV)/bin/python || $(PYTHON) -m venv $(MYPY_VENV)
	$(MYPY_VENV)/bin/python -m pip install --quiet 'mypy==$(MYPY_VERSION)'
	touch $(MYPY_STAMP)

demo: $(STAMP)
	$(VENV)/bin/pprl demo --out demo-out

test: lint typecheck
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP) $(MYPY_STAMP)
	$(MYPY_VENV)/bin/mypy --python-executable $(PY)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(MYPY_VENV) build *.egg-info demo-out
