# Two entry points (see README): `make run` and `make test`. Both work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 7860
HOST   ?= 127.0.0.1

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: install install-run run ingest test lint unit integration bench bench-api bench-upload bench-scale bench-load eval-guard chromium clean

EVAL ?= ../shared/eval
# Floors a little under what we measure (README, "Quality"): a regression guard, not a target.
SEED_FLOORS  := --min recall@5=0.85 --min answer_accuracy=0.75 --min citation_precision=1.0 --min refusal_rate=1.0
CONV_FLOORS  := --min answer_right=0.59 --min doc_cited=0.90 --min pronoun_right=0.57 --min switch_reached=0.77 \
                --min unanswerable_refused=0.26
CANARD_FLOORS := --min rewrite_f1=0.78
OOD_FLOORS   := --min out_of_document_refused=0.92 --max false_refusals=0.03
SQUAD_FLOORS := --min recall@1=0.80 --min recall@5=0.92 --min mrr@10=0.85 --min answer_accuracy=0.80 \
                --min citation_precision=0.75 --max false_refusal_rate=0.05

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch is pinned to 2.13.0 in pyproject.toml: pip takes the CPU build that lies on this disk.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,llm]'
	touch $@

install: $(VENV)/.installed

# `make run` installs only what running needs: no test tools and no `llm` extra (llama.cpp would
# compile for 5-10 minutes before the first answer of a default that never uses it). A venv that
# `make test` already filled counts.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	@if [ -f $(VENV)/.installed ] && [ $(VENV)/.installed -nt pyproject.toml ]; then touch $@; else \
	  $(BIN)/python -m pip install -q --upgrade pip && $(BIN)/python -m pip install -q -e . && touch $@; fi

install-run: $(VENV)/.installed-run

ingest: install-run
	$(BIN)/qa ingest

run: ingest
	$(BIN)/qa serve --host $(HOST) --port $(PORT)

# Debian's chromium drives the real-browser UI test (never `playwright install`).
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

lint: install
	$(BIN)/ruff check qa ui tests bench
	$(BIN)/mypy qa ui

test: install chromium lint
	$(BIN)/pytest

unit: install
	$(BIN)/pytest -m unit

integration: install chromium
	$(BIN)/pytest -m integration

bench: install
	$(BIN)/python bench/run.py

bench-api: install
	$(BIN)/python bench/api.py

# Documents through the API: 100-page PDF upload to first answer, throughput vs raw encode, questions during an upload.
bench-upload: install
	$(BIN)/python bench/upload.py

# 100,000 SQuAD-built passages: ingest, store size, index build, warm latency, RSS, a live change (README "Speed and scale").
SCALE ?= 100000
bench-scale: install
	$(BIN)/python bench/scale.py --passages $(SCALE)

# 20 clients x 60 s on loopback against a real `qa serve` with a key; fails on any error or a health answer of 1 s or more.
bench-load: install
	$(BIN)/python bench/load.py --clients 20 --seconds 60

# Regression guard (CI): fails when quality falls below floors set a little under what we reach.
eval-guard: ingest
	$(BIN)/qa eval $(EVAL)/seed_dev.jsonl $(SEED_FLOORS)
	$(BIN)/qa eval $(EVAL)/squad11_dev.questions.jsonl --limit 200 $(SQUAD_FLOORS)
	$(BIN)/qa eval $(EVAL)/conv_dev.questions.jsonl $(CONV_FLOORS)
	$(BIN)/qa eval $(EVAL)/canard_dev.rewrites.jsonl $(CANARD_FLOORS)
	$(BIN)/qa eval $(EVAL)/squad11_dev.questions.jsonl --out-of-document --limit 600 $(OOD_FLOORS)

clean:
	rm -rf $(VENV) .qa-data .pytest_cache .mypy_cache .ruff_cache tests/artifacts
