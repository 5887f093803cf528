PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-slow lint bench bench-quick bytecode clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt -e '.[test]'
	touch $(STAMP)

# Every run starts processes that import the project (the run's process, its launcher): they read it compiled,
# even where PYTHONDONTWRITEBYTECODE keeps Python from caching what it compiles (0.1 s less per run process).
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q app workers bench

run: bytecode
	$(BIN)/ticketrush serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint bytecode
	$(BIN)/pytest -m "not slow"

test-slow: bytecode
	$(BIN)/pytest -m slow

bench: bytecode
	$(BIN)/python -m bench

bench-quick: bytecode
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
	find app workers bench tests -name __pycache__ -prune -exec rm -rf {} +
