# Two commands do all the set-up on a fresh machine:
#   make book   create .venv, install the course, build the HTML book into _build/html
#               (and its Chinese edition into _build/html/zh_CN)
#   make test   create .venv, install the course, run the whole test suite
# TORCH picks the PyTorch build installed first (the version the course is tested with, also the
# lowest pyproject.toml allows); e.g. `make book TORCH='torch>=2.13'` to take the newest release.
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Tools the course calls by name (jupyter, alembic for nbgrader) come from the venv.
export PATH := $(abspath $(VENV))/bin:$(PATH)
# Notebook kernels, graders and tests share a few cores: idle OpenMP threads must sleep instead
# of spinning, or they steal the cores the other processes are waiting for (a busy machine then
# runs a chapter many times slower).
export OMP_WAIT_POLICY ?= PASSIVE
# Chapters executed at once by `make book` (and the test suite's book build); test workers.
BOOK_JOBS ?= 2
TEST_JOBS ?= auto
export BOOK_JOBS

.PHONY: book translations test test-lowest publish lab install clean release collect zip-collect autograde feedback grades bench-grading

# Chapters run only when their code changed (cached in _build/.jupyter_cache), BOOK_JOBS at once.
# MathJax, mermaid and the widget renderer are served from the book itself (fetched once from npm
# into _vendor/), so it reads offline. Then each translation (locales/languages.yml), rendered
# from the same cache into _build/html/<language>/, e.g. the Chinese edition in _build/html/zh_CN/.
book: $(STAMP)
	$(PY) tools/vendor_book_assets.py
	$(PY) tools/execute_chapters.py --jobs $(BOOK_JOBS)
	$(VENV)/bin/jupyter-book build . --warningiserror --nitpick --keep-going
	$(PY) tools/book_i18n.py build --warningiserror --nitpick

# After editing English text (a page or an exercise's instructions): bring the message catalogs
# locales/<language>/LC_MESSAGES/ up to date (CONTRIBUTING.md, "Translating the book").
translations: $(STAMP)
	$(PY) tools/book_i18n.py update

# Test files run in parallel (one file per worker at a time); the table at the end shows where
# the time went.
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS)

# The lowest PyTorch that pyproject.toml allows (`torch>=X`), in a venv of its own: the unit tests
# of `utils` (the test files that import neither instructor/ nor the book's tools) and chapter 9's
# cells (torchao, torch.compile, gloo), each cell a test (nbval). CI can run it beside `make test`.
LOWEST_VENV  ?= .venv-lowest
LOWEST_TORCH ?= $(shell sed -n 's/^ *"torch>=\([0-9.]*\)".*/\1/p' pyproject.toml)
UTILS_TESTS   = $(shell grep -L -E 'exercise_helpers|book_build|browser_helpers|instructor|nbformat|glossary_table|book_i18n' tests/test_*.py)
test-lowest: $(LOWEST_VENV)/.installed
	$(LOWEST_VENV)/bin/python -c "import torch; v = torch.__version__.split('+')[0]; \
		assert v.startswith('$(LOWEST_TORCH)'), f'expected torch $(LOWEST_TORCH), the venv has {v}'; print('torch', torch.__version__)"
	$(LOWEST_VENV)/bin/python -m pytest -n $(TEST_JOBS) --dist loadfile $(UTILS_TESTS) \
		--nbval-current-env chapters/09_scaling_up.ipynb

$(LOWEST_VENV)/.installed: pyproject.toml
	test -x $(LOWEST_VENV)/bin/python || $(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOWEST_VENV)/bin/python -m pip install --quiet "torch==$(LOWEST_TORCH)"
	$(LOWEST_VENV)/bin/python -m pip install --quiet -e ".[test]"
	touch $@

# Publish the built book, both editions (_build/html and _build/html/zh_CN), by hand: to the
# gh-pages branch of the remote `origin`, which GitHub Pages serves (Settings > Pages > Deploy from
# a branch: gh-pages). .github/workflows/book.yml does the same build on every push to main.
publish: book
	$(VENV)/bin/ghp-import --no-jekyll --push --force --message "Book built from $$(git rev-parse --short HEAD)" _build/html

lab: $(STAMP)
	$(VENV)/bin/jupyter lab

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

clean:
	rm -rf _build .pytest_cache

# ---- Instructors (see chapters/instructors.md) --------------------------------------------
# ASSIGNMENT=ex01_foundations; STUDENT=... limits autograde to one student; JOBS=N grades N
# students at a time (default: all cores); REQUIRE_SANDBOX=1 refuses to grade without bwrap.
ASSIGNMENT ?=
release: $(STAMP)
	$(PY) -m instructor release $(ASSIGNMENT)
	$(PY) tools/exercise_i18n.py release $(ASSIGNMENT)
collect: $(STAMP)
	$(PY) -m instructor collect $(ASSIGNMENT) $(ZIP)
autograde: $(STAMP)
	$(PY) -m instructor autograde $(ASSIGNMENT) $(if $(JOBS),-j $(JOBS)) $(if $(STUDENT),--student $(STUDENT)) \
		$(if $(REQUIRE_SANDBOX),--require-sandbox)
feedback: $(STAMP)
	$(PY) -m instructor feedback $(ASSIGNMENT)
grades: $(STAMP)
	$(PY) -m instructor grades --output grades.csv
bench-grading: $(STAMP)
	$(PY) benchmarks/bench_grading.py
