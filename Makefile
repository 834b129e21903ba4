# The two commands of the README: `make book` and `make test`.
# Each creates .venv with Python >= 3.11 if it is missing and installs requirements.txt and
# course_lib into it; the install is redone only when requirements.txt or pyproject.toml change.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv book test bench clean execute

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required, found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# --- the book -------------------------------------------------------------------------------
# MathJax, RequireJS and the ipywidgets embed manager are served by the book itself (it must work
# offline): `npm ci` installs the versions pinned in chapters/_vendor/package-lock.json, redone
# only when package.json or the lock file change, and copy_assets.py stages the few files the
# pages load in chapters/_vendor/_build/, which _config.yml hands to Sphinx (html_static_path).
VENDOR       := chapters/_vendor
VENDOR_NPM   := $(VENDOR)/node_modules/.package-lock.json
VENDOR_STAGE := $(VENDOR)/_build/.stamp

$(VENDOR_NPM): $(VENDOR)/package.json $(VENDOR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js >= 18) is required to build the book" >&2; exit 1; }
	cd $(VENDOR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# Sphinx copies static files only when it writes pages, so newly staged files also drop the
# HTML output (not the notebook cache): the next build rewrites every page and copies them.
$(VENDOR_STAGE): $(VENDOR_NPM) $(VENDOR)/copy_assets.py $(VENDOR)/widgets-setup.js
	$(PYTHON) $(VENDOR)/copy_assets.py
	rm -rf _build/html

# Warnings are errors (-W), nitpicky cross-references (-n). The pages show the outputs committed
# in the notebooks (_config.yml: they are not executed again; `make test` proves they reproduce).
# COURSE_STATIC=1 keeps any execution on the static faces of interactive figures
# (course_lib.widgets): a page cannot run Python.
book: $(STAMP) $(VENDOR_STAGE)
	COURSE_STATIC=1 $(BIN)/jupyter-book build . --builder html -W -n --keep-going

# --- the tests ------------------------------------------------------------------------------
# `make test` builds the book first: tests/test_book_browser.py checks the built HTML.
# One pytest run holds the test-suite and the chapter notebooks (nbval: every output compared
# with the committed one, after tests/nbval_sanitize.cfg), so it never collects zero items.
# The student exercise notebooks (exercises/<set>.ipynb) have blanks and no outputs, so they are
# run separately with --nbval-lax (they must run without error; only cells marked
# NBVAL_CHECK_OUTPUT are compared), and only if any exist.
# Every chapter notebook is also executed twice and the outputs compared (determinism). The main
# pytest run comes last, so that its summary closes the output.
NBVAL_OPTS := --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
STUDENT_NBS = $(shell find exercises -maxdepth 1 -name '*.ipynb' 2>/dev/null | sort)

test: book
	$(if $(STUDENT_NBS),COURSE_STATIC=1 $(BIN)/python -m pytest --nbval-lax $(NBVAL_OPTS) $(STUDENT_NBS))
	COURSE_STATIC=1 $(BIN)/python tests/check_reexecution.py
	COURSE_STATIC=1 $(BIN)/python -m pytest tests chapters --nbval $(NBVAL_OPTS) --ignore=chapters/_vendor

# Execute chapter notebooks in place, as they are committed: make execute NB=chapters/ch01_gradient_descent.ipynb
execute: $(STAMP)
	COURSE_STATIC=1 $(BIN)/python tests/execute_notebook.py $(NB)

# Every benchmark in turn (a few minutes); each prints its figures and the issue's target.
# One alone: .venv/bin/python benchmarks/<name>.py --help
BENCHMARKS := optimizer_step widget_callback grade_speed hvp_cost landscape_2d grokking

bench: $(STAMP)
	@for b in $(BENCHMARKS); do echo "== benchmarks/$$b.py"; $(BIN)/python benchmarks/$$b.py || exit 1; done

clean:
	rm -rf _build $(VENDOR)/_build
