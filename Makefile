# The two commands of the README: `make run` (the whole product) and `make test` (the suite).
PY := .venv/bin/python

.PHONY: run test bench bootstrap

bootstrap:
	scripts/bootstrap.sh

# DEBUG is off unless DJANGO_DEBUG=1, and then the portal needs a real key: generated once under var/ (0600).
run: bootstrap
	$(PY) -m portal.local_secrets
	$(PY) manage.py run_local

test:
	WITH_BROWSER=1 scripts/bootstrap.sh
	$(PY) -m pytest $(PYTEST_ARGS)

bench: bootstrap
	$(PY) -m bench $(BENCH_ARGS)
