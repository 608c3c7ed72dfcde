# Two commands on a fresh machine: `make run` and `make test`. Everything else is set up here.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
# The CPU build; a CUDA user can run e.g. `make run TORCH_SPEC=torch` or install torch into .venv first.
TORCH_SPEC ?= torch==2.13.0
BIN    := $(VENV)/bin
EXAMPLE ?= resources/examples/text-classifier/project.wbproj

.PHONY: run test setup bench package screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@if $(BIN)/python -c "import torch" 2>/dev/null; then \
	    $(BIN)/pip install -q -e ".[test]"; \
	else \
	    $(BIN)/pip install -q "$(TORCH_SPEC)" -e ".[test]"; \
	fi
	@touch $@

setup: $(VENV)/.installed

run: $(VENV)/.installed
	@sh packaging/system-libs.sh $(BIN)/python
	$(BIN)/workbench gui $(EXAMPLE)

# The import contracts of pyproject.toml (Qt-free library, layers, no cycles) first, then the tests.
test: $(VENV)/.installed
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider

# The README's screenshots: the UI tests save them in tests/_artifacts; look, then copy.
SHOTS := main-window-light main-window-dark data-panel dashboard-training dashboard-done \
	import-dialog frozen-opaque
screenshots: $(VENV)/.installed
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/ui/test_app.py tests/ui/test_journey.py tests/ui/test_data_panel.py \
		tests/ui/test_import_dialog.py tests/ui/test_import_opaque.py
	@for s in $(SHOTS); do cp tests/_artifacts/$$s.png docs/images/$$s.png; done

bench: $(VENV)/.installed
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

package: $(VENV)/.installed
	$(BIN)/pip install -q pyinstaller
	$(BIN)/pyinstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/workbench.spec

clean:
	rm -rf $(VENV) build dist *.egg-info
