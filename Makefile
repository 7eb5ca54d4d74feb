# Two entry points for a fresh machine with only python3, pip and make:
#   make demo  -- create .venv, install, run the main job end to end on a small synthetic population
#   make test  -- create .venv, install with test extras, run the whole test suite
#   make bench -- every benchmark at a small size (BENCH_ARGS="--size full" for the recorded sizes)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.pprl-installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pprl demo --out demo-out

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info demo-out
