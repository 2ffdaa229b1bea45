# make install: .venv with pinned requirements and the package (with its C++/CUDA extension) in editable mode.
# make test:    install if needed, then run the test suite.
# make lint:    install if needed, then ruff (pyproject.toml) on the Python code and clang-format (.clang-format) on csrc/.
# make demo:    install, then the main job (see README).
PY      := .venv/bin/python
PIP     := $(PY) -m pip
STAMP   := .venv/.stamp-install
CSRC    := $(wildcard csrc/*/*.h csrc/*/*.cpp csrc/*/*/*.cpp csrc/*/*/*.cu csrc/*/*/*.cuh csrc/*.cpp)
SOURCES := setup.py $(CSRC)

.PHONY: install test lint demo clean

install: $(STAMP)

$(STAMP): requirements.txt $(SOURCES)
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-build-isolation --no-deps -e .
	touch $(STAMP)

test: install
	$(PY) -m pytest -q tests

lint: install
	.venv/bin/ruff check .
	.venv/bin/clang-format --dry-run --Werror $(CSRC)

demo: install
	bash tools/demo.sh

clean:
	rm -rf build *.egg-info slowfast/_C*.so
