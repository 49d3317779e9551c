# Two commands: `make run` and `make test`. Each sets up .venv when it is missing.
# .venv is a plain `python3.11 -m venv`; `make PY=/path/to/python3.11 ...` chooses another interpreter.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501

.PHONY: run test setup sample bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

sample: $(STAMP)
	$(BIN)/deploy-advisor models prepare-sample

run: sample
	$(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT)

test: $(STAMP)
	bash scripts/install-browser.sh
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python benchmarks/recommend.py
	$(BIN)/python benchmarks/serve.py
	$(BIN)/python benchmarks/fleet.py
	$(BIN)/python benchmarks/ui.py

clean:
	rm -rf $(VENV)
