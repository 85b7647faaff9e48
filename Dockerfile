# Image for the Kubeflow Pipelines components: TFX plus this project, from the lock file.
#   docker build -t mnist-tfx:0.1.0 .   (then push it and pass --image to `make compile`)
FROM python:3.10-slim
WORKDIR /app
COPY requirements.lock pyproject.toml ./
RUN pip install --no-cache-dir uv==0.13.9 \
 && uv pip sync --system --no-cache requirements.lock
COPY pipeline/ pipeline/
COPY components/ components/
COPY trainer_module/ trainer_module/
RUN uv pip install --system --no-cache --no-deps -e .
