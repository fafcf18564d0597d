# Two commands for a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
# The local CPU wheel; an unpinned torch would pull a multi-GB CUDA build on a CPU machine.
TORCH_SPEC ?= torch==2.13.0
# Where pypi.org's torch for this platform is a CUDA build (Linux x86-64), take it from PyTorch's CPU index:
#   make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
BIN := $(VENV)/bin

.PHONY: demo test install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --disable-pip-version-check $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	@mkdir -p out
	$(BIN)/brushwork stylize --sample-content --sample-style -o out/demo.png --size 384
	@echo "Result: $(CURDIR)/out/demo.png"

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[bench]"
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps pylette==6.0.0
	$(BIN)/python benchmarks/gatys_vs_textbook.py
	$(BIN)/python benchmarks/adain_vs_original.py
	$(BIN)/python benchmarks/palette_vs_libraries.py

clean:
	rm -rf $(VENV) out .pytest_cache
