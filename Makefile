# The two commands: `make serve` (sandbox + portal with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: serve test unit sandbox bench lint clean prod worker team loadtest verify-audit mutate

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

# Two pytest-xdist workers (this machine and CI have 2 cores), each with its own sandbox, browser and test database
# (PostgreSQL: test_jitportal_gw0, _gw1); tests marked xdist_group("name") run on one worker in turn.
# TEST_WORKERS=0 runs in this process, as plain `pytest` does.
TEST_WORKERS ?= 2
test: $(VENV)/.installed-dev
	$(PY) -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup) $(PYTEST_ARGS)

# The unit layer alone: pure functions and forms, no sandbox, a few seconds.
unit: $(VENV)/.installed-dev
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

# Hypothesis with many more examples than `make test` runs: about 10,000 inputs to the pages, and 250 per API
# operation (schemathesis, from the OpenAPI document); none may get a 500.
fuzz: $(VENV)/.installed-dev
	HYPOTHESIS_PROFILE=fuzz API_FUZZ_EXAMPLES=$${API_FUZZ_EXAMPLES:-250} $(PY) -m pytest tests/test_no_server_errors.py \
		tests/api/test_openapi_fuzz.py -q -s $(PYTEST_ARGS)

# Mutation testing of the security-critical modules ([tool.mutmut] in pyproject.toml, docs/mutation.md); not part of
# `make test`. Each mutant runs the unit tests that reach its function, one at a time (a shared test database),
# niced. MUTANTS narrows it (and re-tests those), e.g. MUTANTS='trail.chain*'; verdicts are kept in mutants/ and
# reused while their function is unchanged (docs/mutation.md says what to do after changing a test).
MUTATE_CHILDREN ?= 1
mutate: $(VENV)/.installed-dev
	nice -n 10 $(VENV)/bin/mutmut run --max-children $(MUTATE_CHILDREN) $(MUTANTS)
	$(PY) -m tests.mutation_score --goal 90

clean:
	rm -rf $(VENV) var mutants

bench: $(VENV)/.installed-dev
	$(PY) -m tests.bench_fleet $(BENCH_ARGS)
	$(PY) -m tests.bench_audit $(BENCH_AUDIT_ARGS)
	$(PY) -m tests.bench_stream $(BENCH_STREAM_ARGS)

# The audit trail's keyed chain, against the environment's AUDIT_KEY (or DJANGO_SECRET_KEY) and database;
# CHECKPOINT=<count>:<mac> (from the log or a manifest) also catches removed newest events; CSV=<file>
# MANIFEST=<its manifest> checks a downloaded file against its evidence manifest instead.
verify-audit: $(VENV)/.installed-run
	$(if $(CSV),DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py verify_export $(CSV) $(MANIFEST),DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py verify_audit $(if $(CHECKPOINT),--checkpoint $(CHECKPOINT)))

# .ci/run runs it before the tests: the linter's rules, and the code as `ruff format` writes it ([tool.ruff]).
lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

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

# A rehearsal of the team shape here (README: A rehearsal of the team shape): two instances behind one address
# (TEAM_PORT, 8080), a worker, PostgreSQL (DATABASE_URL) and Redis (REDIS_URL), against the sandbox.
team: $(VENV)/.installed-run
	DJANGO_DEBUG=1 $(PY) manage.py team

# 50 signed-in people on two gunicorn instances (PostgreSQL, Redis, sandbox; loopback only) for 60 s.
loadtest: $(VENV)/.installed-dev
	$(PY) -m tests.team.loadtest $(LOADTEST_ARGS)
