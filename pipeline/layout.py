"""Where everything lives under an output root: the one place that knows the layout.

    <root>/pipelines/<pipeline>/             artifacts (the pipeline root)
    <root>/metadata/<pipeline>/metadata.db   SQLite ML Metadata (+ run.lock beside it)
    <root>/serving_model/<pipeline>/<model>/<version>/   pushed SavedModels (TF Serving)
    <root>/reports/<pipeline>/<run id>/      report.md and report.png

Pure string functions: no TensorFlow, no filesystem access, no environment reads.
"""

import os

# Pushes are copied to `<serving dir>/<PARTIAL_PUSH_PREFIX><host>-<pid>-<version>` first,
# then renamed to `<version>` (components/atomic_pusher.py, components/partial_push.py);
# TF Serving loads numeric directories only.
PARTIAL_PUSH_PREFIX = ".partial-"
# Written into every pushed version: which model artifact it came from, so a rerun
# that would publish the same model again publishes nothing (components/atomic_pusher.py).
PUSH_RECORD = "mnist_tfx_push.json"


def pipeline_name(dataset: str) -> str:
  """The pipeline's name for a dataset, e.g. `mnist-tfx-fashion-mnist`."""
  return f"mnist-tfx-{dataset.replace('_', '-')}"


def pipeline_root_under(output_root: str, name: str) -> str:
  """Where a pipeline's artifacts live under an output root."""
  return f"{output_root.rstrip('/')}/pipelines/{name}"


def serving_root_under(output_root: str, name: str) -> str:
  """Where a pipeline's pushed models live, one directory per model, under an output root."""
  return f"{output_root.rstrip('/')}/serving_model/{name}"


def metadata_path(output_root: str, name: str) -> str:
  """The SQLite ML Metadata file of a pipeline under `output_root`."""
  return os.path.join(output_root, "metadata", name, "metadata.db")


def report_dir(output_root: str, name: str, run_id: str) -> str:
  """Where a run's report.md and report.png go."""
  return os.path.join(output_root, "reports", name, run_id)
