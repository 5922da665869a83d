# The two commands of the README: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
PORT   ?= 8000

.PHONY: setup run test contract bench lint migrate clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

migrate: setup
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py seed_demo --quiet-users
	$(BIN)/python manage.py seed_recovery_demo
	$(BIN)/python manage.py seed_demo  # loads nothing twice; prints the sign-ins last, just above the server's address
	PORT=$(PORT) exec bin/run  # exec: make passes SIGTERM to bin/run itself, which stops every child

test: setup
	$(BIN)/python -m pytest

# Schemathesis over the whole API schema against a live server (its own database, server and key; see bin/contract).
contract: setup
	$(BIN)/python bin/contract

bench: setup
	$(BIN)/python -m bench

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
