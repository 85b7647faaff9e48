# Two commands on a fresh machine: `make run` and `make test`.
# Both (re)create .venv from requirements.lock; with nothing changed that step is a no-op.
SHELL := /bin/bash
VENV := .venv
# The kfp 2.x SDK's own venv (see its rule below).
KFP2_VENV := .venv-kfp2
# The documentation site's tools (mkdocs), in a venv of their own (see its rule below).
DOCS_VENV := .venv-docs
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
# The first Python 3.10 with the tarfile fix for CVE-2025-4517 (extraction filters bypassed).
PY310_SAFE := 3.10.18
DATASET ?= fashion_mnist
MODEL ?= cnn
ARGS ?=
# GPU=1: `make image` builds on a CUDA base and adds tensorflow[and-cuda] (see Dockerfile).
GPU ?=
ifeq ($(GPU),1)
IMAGE ?= mnist-tfx:0.1.0-gpu
BASE_IMAGE ?= nvidia/cuda:12.2.2-base-ubuntu22.04
endif
IMAGE ?= mnist-tfx:0.1.0
BASE_IMAGE ?= python:3.10-slim

# Python 3.10: PYTHON310=, else python3.10 on PATH, else pyenv's (maybe not the active
# version), else one uv installed earlier; else the venv step installs one with uv.
PY310_UV_DIR = $${UV_PYTHON_INSTALL_DIR:-$${XDG_DATA_HOME:-$$HOME/.local/share}/uv/python}
PYTHON310 ?= $(shell for p in python3.10 $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.10*/bin/python3.10 \
	$(PY310_UV_DIR)/cpython-3.10*/bin/python3.10; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { command -v "$$p"; break; }; done)

.PHONY: venv run fetch prepare test test-real test-all bench lock lock-kfp2 lock-uv compile image \
	experiments clean lint wipe-output audit docs docs-venv lock-docs

venv: $(VENV)/.synced $(KFP2_VENV)/.synced

# With no Python 3.10 found, scripts/provision_python310.py installs uv's CPython 3.10
# (bootstrapping uv with whatever python3 there is) or says in one line what to do instead.
$(PY):
	@py="$(PYTHON310)"; if [ -z "$$py" ]; then \
	  command -v python3 >/dev/null || { echo "error: no Python 3.10, and no python3 to install one with uv: install Python 3.10 (pyenv install 3.10, or your distribution's python3.10), or pass PYTHON310=/path/to/python3.10, or run in the image (README, \"Requirements\")" >&2; exit 1; }; \
	  py=$$(python3 scripts/provision_python310.py --uv-lock requirements-uv.lock) || exit 1; fi; \
	$(call warn_old_python310,$$py); "$$py" -m venv $(VENV)

# One line on stderr when the Python 3.10 $(1) is older than $(PY310_SAFE); never fails.
warn_old_python310 = "$(1)" -c 'import sys; v = tuple(map(int, "$(PY310_SAFE)".split("."))); \
	sys.exit(sys.version_info[:3] < v)' 2>/dev/null || echo "warning: $(1) is Python \
	$$("$(1)" -c 'import platform; print(platform.python_version())'), older than $(PY310_SAFE): \
	its tarfile lacks the fix for CVE-2025-4517; install $(PY310_SAFE) or later (pyenv install 3.10) \
	or pass PYTHON310=/path/to/a/newer/python3.10" >&2

# --compile-bytecode: with PYTHONDONTWRITEBYTECODE set (as on CI machines) nothing caches the
# bytecode later, and every process would compile TF and TFX again: `import tfx.v1` took 55 s
# instead of 20 s on a 2-core machine. --require-hashes: every file installed matches the lock's
# sha256 (uv itself too, from requirements-uv.lock), or nothing is installed.
$(VENV)/.synced: requirements.lock requirements-uv.lock pyproject.toml Makefile | $(PY)
	@test -x $(UV) || $(PY) -m pip install -q --disable-pip-version-check --require-hashes \
	  -r requirements-uv.lock
	$(UV) pip sync -q --compile-bytecode --require-hashes --python $(PY) requirements.lock
	$(UV) pip install -q --python $(PY) --no-deps -e .
	@touch $@

# The real kfp 2.x SDK, in a venv of its own: tests load pipeline.yaml with it
# (tests/support/kfp2_load.py). Not in .venv: kfp 2 needs protobuf >= 4, TFX 1.15 pins
# protobuf < 4. Built after .venv (for its uv), on the Python 3.10 that .venv links to: on .venv's
# own python, uv would link to that venv (sys._base_executable), broken when .venv is rebuilt.
# Byte-compiled like .venv: `import kfp` took 8 s instead of 2.5 s without (kubernetes).
$(KFP2_VENV)/.synced: requirements-kfp2.lock Makefile | $(VENV)/.synced
	@test -x $(KFP2_VENV)/bin/python || $(UV) venv -q --clear $(KFP2_VENV) \
	  --python "$$($(PY) -c 'import os, sys; print(os.path.realpath(sys.executable))')"
	$(UV) pip sync -q --compile-bytecode --require-hashes --python $(KFP2_VENV)/bin/python \
	  requirements-kfp2.lock
	@touch $@

lock: lock-kfp2 lock-uv lock-docs
	$(UV) pip compile -q --python $(PY) --python-version 3.10 --python-platform x86_64-unknown-linux-gnu \
	  --generate-hashes requirements-audit.in -o requirements-audit.lock
	$(UV) pip compile -q --python-version 3.10 --python-platform x86_64-unknown-linux-gnu \
	  --generate-hashes requirements.in -o requirements.lock
	$(UV) pip compile -q --python-version 3.10 --python-platform x86_64-unknown-linux-gnu \
	  --generate-hashes -c requirements.lock requirements-gpu.in -o requirements-gpu.lock

# Every wheel of uv UV_VERSION (all platforms) and its sdist, by sha256.
lock-uv:
	@{ echo "# uv itself, pinned by hash: make venv, the Dockerfile and scripts/provision_python310.py"; \
	  echo "# install it with pip --require-hashes. make lock-uv writes it from the Makefile's UV_VERSION."; \
	  echo "uv==$(UV_VERSION)" | $(UV) pip compile -q --no-header --no-annotate --python-version 3.10 \
	    --generate-hashes -; } > requirements-uv.lock.tmp && mv requirements-uv.lock.tmp requirements-uv.lock

lock-kfp2:
	$(UV) pip compile -q --python $(PY) --python-version 3.10 --python-platform x86_64-unknown-linux-gnu \
	  --generate-hashes requirements-kfp2.in -o requirements-kfp2.lock

# The docs site (mkdocs.yml, docs/): --strict turns a broken link, a missing anchor or a page
# left out of the nav into a failed build. mkdocs has a venv of its own, from a hashed lock, so
# the site's tools never touch .venv's locked stack; built with .venv's uv and base Python 3.10.
docs-venv: $(DOCS_VENV)/.synced

$(DOCS_VENV)/.synced: requirements-docs.lock Makefile | $(VENV)/.synced
	@test -x $(DOCS_VENV)/bin/python || $(UV) venv -q --clear $(DOCS_VENV) \
	  --python "$$($(PY) -c 'import os, sys; print(os.path.realpath(sys.executable))')"
	$(UV) pip sync -q --require-hashes --python $(DOCS_VENV)/bin/python requirements-docs.lock
	@touch $@

# Not --quiet: with it mkdocs 1.6.1 drops the warnings before --strict counts them (a broken
# link then passed).
docs: $(DOCS_VENV)/.synced
	$(DOCS_VENV)/bin/mkdocs build --strict --site-dir site

lock-docs:
	$(UV) pip compile -q --python $(PY) --python-version 3.10 --python-platform x86_64-unknown-linux-gnu \
	  --generate-hashes requirements-docs.in -o requirements-docs.lock

# pip-audit in a venv of its own, from its hashed lock; built by `make audit` only.
AUDIT_VENV := .venv-audit
AUDIT_SERVICE ?= pypi
$(AUDIT_VENV)/.synced: requirements-audit.lock | $(VENV)/.synced
	@test -x $(AUDIT_VENV)/bin/python || $(UV) venv -q --clear $(AUDIT_VENV) \
	  --python "$$($(PY) -c 'import os, sys; print(os.path.realpath(sys.executable))')"
	$(UV) pip sync -q --require-hashes --python $(AUDIT_VENV)/bin/python requirements-audit.lock
	@touch $@

# Known vulnerabilities in requirements.lock; one line when the database is unreachable.
# What TFX 1.15's pins keep back, and why: docs/security.md.
audit: $(AUDIT_VENV)/.synced
	$(AUDIT_VENV)/bin/python scripts/audit.py requirements.lock --service $(AUDIT_SERVICE)

run: venv
	$(PY) -m pipeline run --dataset $(DATASET) --model $(MODEL) $(ARGS)

fetch: venv
	$(PY) -m pipeline fetch-data --dataset $(DATASET)

prepare: venv
	$(PY) -m pipeline prepare-data --dataset $(DATASET) --output output/tfrecords/$(DATASET) $(ARGS)

lint: venv
	$(VENV)/bin/ruff check .

# Two test processes (pytest-xdist): each takes the next test in order when it is free, and the
# slow ones come first (tests/conftest.py), so neither is left running one alone at the end.
TEST_WORKERS ?= 2
XDIST = -n $(TEST_WORKERS) --dist load --maxschedchunk 1
test: venv
	$(PY) -m pytest -q $(XDIST) -m "not real_data and not extended" $(ARGS)

# make test plus the extended end-to-end runs (S3, the pipeline.yaml replay, faults during the
# push, seeded and early-stopped training): with the v1 replay, then also extended, they took
# 16.5 minutes on their own on a 2-core machine.
test-all: venv
	$(PY) -m pytest -q $(XDIST) -m "not real_data" $(ARGS)

test-real: venv
	$(PY) -m pytest -q -m real_data $(ARGS)

bench: venv
	$(PY) bench/bench_prepare_data.py
	$(PY) bench/bench_trainer.py
	$(PY) bench/bench_distributed.py

compile: venv
	$(PY) -m pipeline compile

# The workshop's grid (datasets x models); e.g. ARGS="--train-steps 200" for a quick one.
experiments: venv
	$(PY) -m pipeline experiment $(ARGS)

# Podman from Debian needs runc and explicit rlimits (crun fails on them here); docker needs neither.
# CA_BUNDLE: a CA file the build step trusts to reach PyPI (a site's TLS-intercepting proxy), given
# as a build secret so it stays out of the image; the host's bundle by default. The last line is
# the image's ID (the digest of its config); the registry's digest comes with `podman push
# --digestfile`. A BASE_IMAGE pinned by tag only gets one line of advice (docs/security.md).
CA_BUNDLE ?= $(firstword $(wildcard /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt))
IMAGE_ID_FILE := output/image-id
BUILD_ARGS = --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg GPU=$(GPU) \
	$(if $(CA_BUNDLE),--secret id=ca_bundle$(comma)src=$(CA_BUNDLE)) --iidfile $(IMAGE_ID_FILE) -t $(IMAGE) .
comma := ,
image:
	@case "$(BASE_IMAGE)" in *@sha256:*) ;; *) echo "note: BASE_IMAGE=$(BASE_IMAGE) is pinned by tag" \
	  "only; pin it by digest for a reproducible image (docs/security.md)" >&2;; esac; mkdir -p output
	@if command -v podman >/dev/null; then \
	  set -x; podman --runtime runc build --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 $(BUILD_ARGS); \
	elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then \
	  set -x; DOCKER_BUILDKIT=1 docker build $(BUILD_ARGS); \
	else echo "error: no container engine: install podman (apt-get install podman) or start docker" >&2; exit 1; fi
	@echo "built $(IMAGE): image ID $$(cat $(IMAGE_ID_FILE))"

# What failed or killed runs left behind; pushed models and ML Metadata are kept.
clean: venv
	$(PY) -m pipeline clean --output-root output
	rm -rf .pytest_cache

# Everything under output/: pushed models, ML Metadata, artifacts, reports, experiments.
wipe-output:
	@echo "deleting output/ (pushed models, ML Metadata, pipeline artifacts, reports, experiments)"
	rm -rf output
