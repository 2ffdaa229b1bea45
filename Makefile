# make install: .venv with pinned requirements and the package (with its C++/CUDA extension) in editable mode.
# make test:    install if needed, then run the test suite.
# make demo:    install, then the main job (see README).
PY      := .venv/bin/python
PIP     := $(PY) -m pip
STAMP   := .venv/.stamp-install
SOURCES := setup.py $(wildcard csrc/*/*.h csrc/*/*.cpp csrc/*/*/*.cpp csrc/*/*/*.cu csrc/*/*/*.cuh csrc/*.cpp)

.PHONY: install test demo clean

install: $(STAMP)

$(STAMP): requirements.txt $(SOURCES)
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-build-isolation --no-deps -e .
	touch $(STAMP)

test: install
	$(PY) -m pytest -q tests

demo: install
	bash tools/demo.sh

clean:
	rm -rf build *.egg-info slowfast/_C*.so
