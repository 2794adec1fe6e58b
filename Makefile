# The two commands a new user needs: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# DeepSpeed JIT-compiles a comm op on first start (~45 s); keep it in one cache every run reuses.
export TORCH_EXTENSIONS_DIR := $(CURDIR)/.cache/torch_extensions
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo ablation test test-fast lint venv bench clean-venv system-deps

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	@# torch must be the CPU wheel: any nvidia-* package means an unpinned torch slipped in.
	@if $(PY) -m pip list 2>/dev/null | grep -i nvidia; then echo "error: nvidia packages installed" >&2; exit 1; fi
	touch $@

venv: $(VENV)/.installed

# Headless Chromium renders clean's HTML report in its test; installed from Debian's packages when missing.
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium (for the report test)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@fc-list :lang=zh-cn 2>/dev/null | grep -q . || { \
	  echo "installing Debian fonts-noto-cjk (the report test's screenshots show Chinese)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq fonts-noto-cjk >/dev/null; }

demo: $(VENV)/.installed
	$(PY) tools/demo.py

# Does cleaning help? Stage 3 twice from one stage-2 model, on raw and on cleaned defective synth data, scored on a
# defect-free held-out world: runs/ablation/results.json and results.md (~6 min on 2 CPU cores).
ablation: $(VENV)/.installed
	$(PY) tools/experiments/clean_ablation.py

test: $(VENV)/.installed system-deps lint
	$(PY) -m pytest

# The quick loop while editing: everything but the DeepSpeed, chat, kill and report tests.
test-fast: $(VENV)/.installed
	$(PY) -m pytest -m "not slow"

# ruff (lint + format check) and the import-layer contract in pyproject.toml.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check zqvl tests tools
	$(VENV)/bin/ruff format --check zqvl tests tools
	$(VENV)/bin/lint-imports

bench: $(VENV)/.installed
	for b in tools/bench/*.py; do [ $$b = tools/bench/gpu_train.py ] || $(PY) $$b || exit 1; done
	@# the seeds' real shapes need a GPU; without one the same code runs with tiny shapes
	if $(PY) -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then \
	  $(PY) tools/bench/gpu_train.py; else $(PY) tools/bench/gpu_train.py --smoke; fi

clean-venv:
	rm -rf $(VENV)
