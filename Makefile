# Hostplane — see README.md. Every target works on a fresh Debian 12 machine as root.
SHELL := /bin/sh
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv

.PHONY: install install-test system-runtime system-test up test lint unit inprocess bench images clean bytecode

install: system-runtime $(VENV)/.synced

install-test: system-test $(VENV)/.synced

system-runtime:
	scripts/install-system-packages.sh runtime

system-test:
	scripts/install-system-packages.sh test

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install -q uv

# Bytecode is compiled here because machines that set PYTHONDONTWRITEBYTECODE (CI's do) would
# otherwise compile every module from source in every hostctl process: 3-4 s per control-plane
# start and 0.8 s per CLI call, most of the suite's time.
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode
	touch $@

bytecode: $(VENV)/.synced
	$(VENV)/bin/python -m compileall -q -j0 src tests bench

up: install bytecode
	scripts/start-system-services.sh
	$(VENV)/bin/hostctl up

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check src tests bench lint
	$(VENV)/bin/ruff format --check src tests bench lint
	$(VENV)/bin/mypy
	PYTHONPATH=lint $(VENV)/bin/lint-imports

test: install-test lint bytecode
	$(VENV)/bin/pytest

unit: $(VENV)/.synced
	$(VENV)/bin/pytest tests/unit

# The workflows in this process: DBOS on SQLite, the real kinds, fake providers (seconds).
inprocess: $(VENV)/.synced
	$(VENV)/bin/pytest tests/inprocess

# Container images for the docker runtime, built locally (no registry): debootstrap + import.
# Targets the engine HOSTPLANE_DOCKER_HOST or DOCKER_HOST names; with neither, this machine's,
# started first when none answers (scripts/docker-engine.sh).
images: install-test
	scripts/docker-engine.sh scripts/build-images.sh

# Each prints one JSON object on its last line; provision.py builds the Docker images it needs
# (as `make images` does) into a private engine of its own.
bench: install-test bytecode
	$(VENV)/bin/python bench/api.py
	$(VENV)/bin/python bench/reconcile.py
	$(VENV)/bin/python bench/edge.py
	$(VENV)/bin/python bench/data.py
	$(VENV)/bin/python bench/dns.py
	$(VENV)/bin/python bench/sftp.py
	$(VENV)/bin/python bench/provision.py
	$(VENV)/bin/python bench/density.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
