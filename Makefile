# The two commands: `make serve` (sandbox + portal with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: serve test unit sandbox bench lint clean prod worker loadtest verify-audit

# pyproject.toml declares the dependencies; constraints.txt pins them (pip freeze style, no lock file).
# dev also installs the jit command (cli/, its own distribution) so that its tests run it as people do.
$(VENV)/.installed-%: pyproject.toml constraints.txt cli/pyproject.toml $(wildcard cli/jit_cli/*.py)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@mkdir -p var
	@$(PY) -c 'import sys, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
		extra = p["optional-dependencies"]["dev"] if sys.argv[1] == "dev" else []; \
		print("\n".join(p["dependencies"] + extra))' $* > var/requirements-$*.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r var/requirements-$*.txt -c constraints.txt
	@if [ "$*" = dev ]; then $(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt ./cli; fi
	@touch $@

serve: $(VENV)/.installed-run
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py serve --port $(PORT)

sandbox: $(VENV)/.installed-run
	$(PY) -m sandbox

test: $(VENV)/.installed-dev
	$(PY) -m pytest $(PYTEST_ARGS)

# The unit layer alone: pure functions and forms, no sandbox, a few seconds.
unit: $(VENV)/.installed-dev
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

# Hypothesis with many more examples than `make test` runs: about 10,000 inputs to the pages, and 250 per API
# operation (schemathesis, from the OpenAPI document); none may get a 500.
fuzz: $(VENV)/.installed-dev
	HYPOTHESIS_PROFILE=fuzz API_FUZZ_EXAMPLES=$${API_FUZZ_EXAMPLES:-250} $(PY) -m pytest tests/test_no_server_errors.py \
		tests/api/test_openapi_fuzz.py -q -s $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var

bench: $(VENV)/.installed-dev
	$(PY) -m tests.bench_inventory $(BENCH_ARGS)
	$(PY) -m tests.bench_audit $(BENCH_AUDIT_ARGS)

# The audit trail's keyed chain, against the environment's AUDIT_KEY (or DJANGO_SECRET_KEY) and database;
# CHECKPOINT=<count>:<mac> (from the log or a CSV's first line) also catches removed newest events.
verify-audit: $(VENV)/.installed-run
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py verify_audit $(if $(CHECKPOINT),--checkpoint $(CHECKPOINT))

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .

# Production, one instance (README: Deploying for a team): migrations, static files, then gunicorn with
# jitportal/gunicorn.conf.py. Needs the production environment (DJANGO_SECRET_KEY, Azure, DATABASE_URL...).
prod: $(VENV)/.installed-run
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input --verbosity 0
	$(VENV)/bin/gunicorn --config jitportal/gunicorn.conf.py jitportal.wsgi

# A background worker; run one or more beside the instances, on the same database.
worker: $(VENV)/.installed-run
	$(PY) manage.py schedule_housekeeping
	$(PY) manage.py db_worker --no-reload

# 50 signed-in people on two gunicorn instances (PostgreSQL, Redis, sandbox; loopback only) for 60 s.
loadtest: $(VENV)/.installed-dev
	$(PY) -m tests.team.loadtest $(LOADTEST_ARGS)
