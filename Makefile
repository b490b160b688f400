# Two commands on a fresh machine: `make book` and `make test`. Only python3 is needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test venv clean distclean

# The venv is (re)installed when requirements.txt or pyproject.toml change.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# Clears the execution cache when rarescale/ or requirements.txt changed since the
# last build (MyST-NB keys its cache on code cells only), then builds with warnings
# as errors.
book: $(STAMP)
	$(BIN)/python -m runners.book_cache
	$(BIN)/jupyter-book build . -W --keep-going

test: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest

clean:
	rm -rf _build out .pytest_cache

distclean: clean
	rm -rf $(VENV)
