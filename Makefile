# Two commands matter: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py

.PHONY: run test lint format worker beat migrate messages bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { echo "Could not create $(VENV): on Debian, apt-get install python3-venv"; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo --if-empty
	$(MANAGE) runserver 127.0.0.1:8000

test: $(VENV)/.dev-deps
	$(BIN)/pytest

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-deps
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

worker: $(VENV)/.run-deps
	$(BIN)/celery -A shop worker --loglevel=info

beat: $(VENV)/.run-deps
	$(BIN)/celery -A shop beat --loglevel=info

migrate: $(VENV)/.run-deps
	$(MANAGE) migrate --noinput

messages: $(VENV)/.dev-deps
	$(MANAGE) makemessages -l zh_Hans -i ".venv/*" -i "tests/*" -i "staticfiles/*"
	$(MANAGE) compilemessages -i .venv

# Seeds 10,000 products on PostgreSQL ($BENCH_DATABASE_URL or shop_bench on 127.0.0.1), cache and
# sessions in Redis ($BENCH_REDIS_URL or database 11 on 127.0.0.1), serves them with gunicorn beside
# the framework's ceiling (bench/ceiling.py) and prints requests/s, p50/p99 and the share of the
# ceiling per page. Needs wrk from Debian: bench.py runs `apt-get install -y wrk` when it is
# missing and it runs as root, otherwise asks for it. Then mixed traffic over HTTP (pages/s,
# orders/s, server time per page with and without orders) and checkout (orders/s on one hot
# variant and on many), failing if any unit is oversold. About six minutes in all.
bench: $(VENV)/.run-deps
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/mixed.py
	$(BIN)/python bench/checkout.py
