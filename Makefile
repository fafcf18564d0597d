# Two commands for a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
# The local CPU wheel; an unpinned torch would pull a multi-GB CUDA build on a CPU machine.
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: demo test install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
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
