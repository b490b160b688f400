# Two commands on a fresh machine: `make book` and `make test`. Only python3 is needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test lab venv corpus clean distclean prune-artifacts

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

# JupyterLab on 127.0.0.1 with jupytext: chapters open as notebooks and save back to .py.
lab: $(STAMP)
	$(BIN)/python -m runners.lab

# The natural-text corpus chapter 4 trains on, from Debian's documentation packages
# (it names the apt-get line when one is missing): python3.11-doc, debian-handbook, linux-doc-6.1.
corpus: $(STAMP)
	$(BIN)/python -m runners.natural_corpus

# One pytest worker per core (pytest-xdist); a test file's tests stay on one worker, so its
# module fixtures (the book build) run once. TEST_JOBS=0 runs them in this process.
TEST_JOBS ?= auto
test: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest $(if $(filter 0,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadfile)

# Re-executes every chapter from scratch, recording the artifacts it reads, then
# deletes the artifacts no chapter reads any more (old configs, old code).
prune-artifacts: $(STAMP)
	rm -rf _build/.jupyter_cache _build/.doctrees _build/artifacts-used.txt
	mkdir -p _build
	RARESCALE_ARTIFACT_LOG=$(CURDIR)/_build/artifacts-used.txt $(BIN)/jupyter-book build . -W --keep-going
	$(BIN)/python -m runners.prune --used _build/artifacts-used.txt

clean:
	rm -rf _build out .pytest_cache

distclean: clean
	rm -rf $(VENV)
