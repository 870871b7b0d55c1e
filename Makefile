# tierflow: `make demo` and `make test` are the two commands; see README.md.
# Settings come from the environment (TIERFLOW_*), e.g. other ports for the local stack:
#   TIERFLOW_KAFKA_PORT=29092 TIERFLOW_STACK_HOME=/tmp/mystack make test

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The venv is (re)built only when pyproject.toml is newer than this stamp.
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv stack-up stack-down stack-status test lint demo deploy-images test-deploy

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

stack-up: venv
	$(BIN)/tierflow stack up

stack-down: venv
	$(BIN)/tierflow stack down

stack-status: venv
	$(BIN)/tierflow stack status

# The stack is stopped whatever pytest says; the exit code is pytest's (or stack up's).
# pytest's 5 ("no tests collected") is a failure too.
test: venv
	@rc=0; \
	$(BIN)/tierflow stack up && { $(BIN)/pytest $(PYTEST_ARGS) || rc=$$?; } || rc=$$?; \
	[ $$rc -ne 5 ] || echo "make test: pytest collected no tests (exit 5)" >&2; \
	$(BIN)/tierflow stack down || { [ $$rc -ne 0 ] || rc=1; }; \
	exit $$rc

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

demo: venv
	$(BIN)/tierflow demo

# The images deploy/docker-compose.yml runs, built from Debian's packages where no image
# registry is reachable (needs dockerd, debootstrap, mvn): deploy/images.sh.
deploy-images:
	bash deploy/images.sh

# The fault test on the running compose stack, 3 brokers (deploy/README.md): needs dockerd,
# docker-compose and the images of `make deploy-images`. TIERFLOW_DEPLOY_EVENTS sets its size.
test-deploy: venv
	TIERFLOW_DEPLOY_TEST=1 $(BIN)/pytest tests/deploy -p no:cacheprovider $(PYTEST_ARGS)
