# Two commands: `make run` serves the app; `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP_FLAGS ?= --disable-pip-version-check -q

.PHONY: run test install install-dev translations messages lint clean

run: install translations
	$(BIN)/qms init --documents documents
	$(BIN)/qms serve --host 127.0.0.1 --port 5000

test: install-dev translations
	$(BIN)/pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Compiled only when a catalogue changed, so two runs at once (CI's SQLite and PostgreSQL
# passes) never rewrite a .mo file the other is reading.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard qms/translations/*/LC_MESSAGES/messages.po))

translations: install $(MO_FILES)

qms/translations/%/LC_MESSAGES/messages.mo: qms/translations/%/LC_MESSAGES/messages.po | $(VENV)/.installed
	$(BIN)/pybabel compile -f -i $< -o $@.tmp --statistics 2>&1 | tail -n 1
	mv $@.tmp $@

# Re-extract the messages after changing user-facing text, then translate the new ones.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--ignore-dirs='.* __pycache__ node_modules' -o qms/translations/messages.pot .
	$(BIN)/pybabel update -i qms/translations/messages.pot -d qms/translations --no-fuzzy-matching

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check qms tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
