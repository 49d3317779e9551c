# Two commands: `make run` and `make test`. Each sets up .venv when it is missing.
# .venv is a plain `python3.11 -m venv` (no C compiler needed) with the hashed locks installed:
# requirements.txt (what the package needs to run, every extra) and requirements-dev.txt (tests only).
# `make PY=/path/to/python3.11 ...` chooses another interpreter; `make lock` regenerates both locks
# from pyproject.toml.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check

.PHONY: run test setup sample bench lock clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) --require-hashes -r requirements.txt -r requirements-dev.txt
	$(PIP) --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

sample: $(STAMP)
	$(BIN)/deploy-advisor models prepare-sample

run: sample
	$(BIN)/deploy-advisor ui --port $(PORT)

# Every test, tests/test_wheel.py included (it builds the wheel and runs it from a fresh venv).
test: $(STAMP)
	bash scripts/install-browser.sh
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python benchmarks/recommend.py
	$(BIN)/python benchmarks/serve.py
	$(BIN)/python benchmarks/fleet.py
	$(BIN)/python benchmarks/ui.py

# Needs uv (`pip install uv`). Pins already in the files are kept unless a declared range excludes them.
lock:
	uv pip compile pyproject.toml --extra all --python-version 3.11 --generate-hashes \
	  --no-emit-package deploy-advisor --custom-compile-command "make lock" -o requirements.txt
	uv pip compile --group pyproject.toml:dev -c requirements.txt --python-version 3.11 --generate-hashes \
	  --custom-compile-command "make lock" -o requirements-dev.txt

clean:
	rm -rf $(VENV)
