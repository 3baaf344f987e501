# nasrank: the two set-up commands of the README.
#   make reproduce   create .venv, install, run the workflow on the default benchmarks
#   make test        create .venv, install with test extras, run pytest
#   make test-cluster the workflow on a single-node SLURM cluster started on this host
#                    (installs slurm-wlm and munge with apt; needs root)
# The local benchmark mirror ../shared/nasdata is used when present (NASRANK_MIRROR).

PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
CORES ?= all
# CPU machines here take this torch from a local file; GPU users: see README.
TORCH ?= torch==2.13.0
MIRROR_DEFAULT := $(abspath ../shared/nasdata)
NASRANK_MIRROR ?= $(if $(wildcard $(MIRROR_DEFAULT)/SHA256SUMS),$(MIRROR_DEFAULT),)
export NASRANK_MIRROR
export PATH := $(BIN):$(PATH)

.PHONY: reproduce test test-cluster lint venv clean

venv: $(STAMP)

# constraints.txt: the versions of the libraries that decide the results' bytes
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

reproduce: $(STAMP)
	$(BIN)/snakemake --profile workflow/profiles/default --cores $(CORES)

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/snakemake --lint
	$(BIN)/pytest

test-cluster: $(STAMP)
	$(BIN)/pytest -m cluster tests/cluster

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/snakemake --lint

clean:
	rm -rf $(VENV) .snakemake logs
