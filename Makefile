# Two commands: `make run` and `make test`. Each sets up .venv when it is missing.
# .venv is a plain `python3.11 -m venv` (no C compiler needed) holding the hashed locks: requirements.txt
# (the package and every extra) and requirements-dev.txt (tests only), installed by uv (itself pinned by hash
# in requirements-uv.txt: pip takes minutes for ~160 packages, uv seconds). `make PY=/path/to/python3.11 ...`
# chooses another interpreter; `make lock` regenerates the locks from pyproject.toml.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501
UV := $(BIN)/uv pip install --python $(BIN)/python --quiet

.PHONY: run test setup sample bench lock clean

$(STAMP): requirements.txt requirements-dev.txt requirements-uv.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements-uv.txt
	$(UV) --require-hashes -r requirements.txt -r requirements-dev.txt
	$(UV) --no-deps --no-build-isolation -e .
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

# Pins already in the files are kept unless a declared range excludes them (`--upgrade` to move them).
LOCK := $(BIN)/uv pip compile --quiet --python-version 3.11 --generate-hashes --custom-compile-command "make lock"
lock: $(STAMP)
	$(LOCK) pyproject.toml --extra all --no-emit-package deploy-advisor -o requirements.txt
	$(LOCK) --group pyproject.toml:dev -c requirements.txt -o requirements-dev.txt
	$(LOCK) --group pyproject.toml:tools -o requirements-uv.txt

clean:
	rm -rf $(VENV)
