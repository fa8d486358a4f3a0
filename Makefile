# dummy-service: `make run` to run it locally, `make test` to test it. `make help` lists all.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
QUEUE_ID ?= local
LOCAL_KAFKA_PORT ?= 19092
LOCAL_KAFKA := 127.0.0.1:$(LOCAL_KAFKA_PORT)
export QUEUE_ID

.DEFAULT_GOAL := help
.PHONY: help venv run test test-unit lint format debug-ping debug-stop bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/activate: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

venv: $(BIN)/activate ## Create .venv with the pinned requirements

run: venv ## Run the worker with simulated loading (a local broker unless KAFKA_BOOTSTRAP_SERVERS is set)
ifdef KAFKA_BOOTSTRAP_SERVERS
	$(BIN)/python -m dummyservice --simulate-loading $(ARGS)
else
	$(BIN)/python scripts/local_broker.py --port $(LOCAL_KAFKA_PORT) -- \
		$(BIN)/python -m dummyservice --simulate-loading $(ARGS)
endif

test: venv ## Run the whole test suite (starts its own broker unless KAFKA_BOOTSTRAP_SERVERS is set)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: venv ## Run the unit tests only (no broker)
	$(BIN)/python -m pytest -m "not broker" $(PYTEST_ARGS)

lint: venv ## Check style with ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

debug-ping: venv ## Ping the worker of QUEUE_ID (the one `make run` uses by default)
	KAFKA_BOOTSTRAP_SERVERS=$${KAFKA_BOOTSTRAP_SERVERS:-$(LOCAL_KAFKA)} \
		$(BIN)/dummy-service ping --queue-id $(QUEUE_ID) --count 1 --timeout 10

debug-stop: venv ## Stop the worker of QUEUE_ID and wait for `interrupted`
	KAFKA_BOOTSTRAP_SERVERS=$${KAFKA_BOOTSTRAP_SERVERS:-$(LOCAL_KAFKA)} \
		$(BIN)/dummy-service stop --queue-id $(QUEUE_ID) --timeout 10

bench: venv ## Measure ping latency, start-up time and memory against a baseline (ARGS=--quick)
	$(BIN)/python -m benchmarks $(ARGS)

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
