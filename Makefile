# Two commands: `make run` and `make test`. Each sets up .venv when it is missing.
# The interpreter .venv is built with: the distribution's optimised CPython 3.11 when there is one
# (scripts/pick-python says why); `make PY=/path/to/python3.11 ...` chooses another.
PY ?= $(shell scripts/pick-python)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501

.PHONY: run test setup native sample bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: native

# The advisor's hot modules compiled with mypyc (optional speed-up; fast no-op when up to date,
# pure Python when no C compiler is available). See scripts/build_native.py.
native: $(STAMP)
	$(BIN)/python scripts/build_native.py

sample: native
	$(BIN)/deploy-advisor models prepare-sample

run: sample
	$(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT)

# Every test, then the advisor's tests once more as plain Python (the first run used the compiled
# modules when they built), so both modes stay covered.
test: native
	bash scripts/install-browser.sh
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup
	DEPLOY_ADVISOR_PURE=1 $(BIN)/python -m pytest -q -n 2 tests/advisor

bench: native
	$(BIN)/python benchmarks/recommend.py
	$(BIN)/python benchmarks/serve.py
	$(BIN)/python benchmarks/fleet.py
	$(BIN)/python benchmarks/ui.py

clean:
	rm -rf $(VENV)
