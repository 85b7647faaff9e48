# Image for the Kubeflow Pipelines components: TFX plus this project, from the lock file.
#   make image [IMAGE=registry/mnist-tfx:TAG] [BASE_IMAGE=...]   (then push it, and pass
#   --image to `python -m pipeline compile`)
# The compiled pipelines run `python -m tfx...` with executors from components/ and the
# trainer's run_fn from trainer_module/ (tests/test_dockerfile.py ties the two together).
ARG BASE_IMAGE=python:3.10-slim
FROM ${BASE_IMAGE}
WORKDIR /app
COPY requirements.lock pyproject.toml ./
# The lock's pyfarmhash==0.3.2 (from tensorflow-data-validation) has no Linux wheel, so it is
# compiled: g++ comes in for that step only when the base image lacks it (python:3.10-slim).
RUN set -e; added=; \
    if ! command -v g++ >/dev/null; then \
      apt-get update; apt-get install -y --no-install-recommends g++; added=1; fi; \
    python -m pip install --no-cache-dir uv==0.13.9; \
    python -m uv pip sync --system --no-cache requirements.lock; \
    if [ -n "$added" ]; then \
      apt-get purge -y --auto-remove g++; rm -rf /var/lib/apt/lists/*; fi
COPY pipeline/ pipeline/
COPY components/ components/
COPY trainer_module/ trainer_module/
RUN python -m uv pip install --system --no-cache --no-deps -e .
