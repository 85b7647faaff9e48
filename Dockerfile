# Image for the Kubeflow Pipelines components: TFX plus this project, from the lock file.
#   make image [IMAGE=registry/mnist-tfx:TAG] [BASE_IMAGE=...]   (then push it, and pass
#   --image to `python -m pipeline compile`)
#   make image GPU=1   the same on a CUDA base, plus TensorFlow's CUDA libraries from PyPI
#                      (requirements-gpu.lock: tensorflow[and-cuda]==2.15.1, CUDA 12.2,
#                      cuDNN 8.9; driver >= 535)
# The compiled pipelines run `python -m tfx...` with executors from components/ and the
# trainer's run_fn from trainer_module/ (tests/test_dockerfile.py ties the two together).
# Pin the base by digest for a reproducible image: BASE_IMAGE=python:3.10-slim@sha256:...
# (docs/security.md). Everything installed is checked against the locks' sha256.
ARG BASE_IMAGE=python:3.10-slim
FROM ${BASE_IMAGE}
# Non-empty: install requirements-gpu.lock (the lock plus TensorFlow's CUDA libraries). TF then
# uses a GPU the pod is given.
ARG GPU=
WORKDIR /app
COPY requirements.lock requirements-gpu.lock requirements-uv.lock pyproject.toml ./
# A CUDA base (nvidia/cuda:*-ubuntu22.04) has no `python`: Ubuntu 22.04's python3 is 3.10.
# The lock's pyfarmhash==0.3.2 (from tensorflow-data-validation) has no Linux wheel, so it is
# compiled: g++ comes in for that step only when the base image lacks it (python:3.10-slim).
# A site's extra CA bundle (a TLS-intercepting proxy: `make image CA_BUNDLE=...`) is a build
# secret: mounted for this step only, never stored in a layer of the image.
RUN --mount=type=secret,id=ca_bundle set -e; added=; apt=; \
    if [ -s /run/secrets/ca_bundle ]; then export SSL_CERT_FILE=/run/secrets/ca_bundle \
      PIP_CERT=/run/secrets/ca_bundle REQUESTS_CA_BUNDLE=/run/secrets/ca_bundle; fi; \
    if ! command -v python >/dev/null; then \
      apt-get update; apt=1; DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends python3 python3-dev python3-pip python-is-python3; fi; \
    if ! command -v g++ >/dev/null; then \
      [ -n "$apt" ] || apt-get update; apt=1; \
      apt-get install -y --no-install-recommends g++; added=1; fi; \
    python -m pip install --no-cache-dir --require-hashes -r requirements-uv.lock; \
    lock=requirements.lock; if [ -n "$GPU" ]; then lock=requirements-gpu.lock; fi; \
    python -m uv pip sync --system --no-cache --compile-bytecode --require-hashes "$lock"; \
    if [ -n "$added" ]; then apt-get purge -y --auto-remove g++; fi; \
    if [ -n "$apt" ]; then rm -rf /var/lib/apt/lists/*; fi
# Lets the NVIDIA container runtime mount the driver's compute libraries (CUDA bases set it).
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility
COPY pipeline/ pipeline/
COPY components/ components/
COPY trainer_module/ trainer_module/
# Byte-compiled now: at run time the steps' user cannot write /app. No build isolation: the
# build backend is the lock's setuptools (hashed), and this step needs no network.
RUN python -m uv pip install --system --no-cache --no-deps --no-build-isolation -e . \
    && python -m compileall -q pipeline components trainer_module
# The steps run as this user, not root (UID 10001: pipeline/runners/kubeflow.py's securityContext
# names it by number, so Kubernetes can check runAsNonRoot). HOME is the one place it writes
# besides /tmp and the pipeline root (Keras, matplotlib caches).
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/app --shell /usr/sbin/nologin app
USER 10001:10001
