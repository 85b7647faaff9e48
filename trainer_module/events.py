"""Where a training job's TensorBoard runs live, and reading their scalars back.

TensorBoard names a run by its directory relative to `--logdir`, so the
trainer writes each kind of summary into a directory named after what it
holds: `train/` (batch loss, learning rate, histograms, the graph) and
`validation/` (the metrics of each evaluation on the validation split). A
named evaluation, such as the experiment grid's final one on the test split,
goes to a directory of its name (`test/`). Checkpoints stay at the top of
the model directory, where the Estimator and TFX look for them.

Jobs written before this layout have their training summaries at the top and
their validation ones in `eval/`; `run_dir` finds either.
"""

import os
from typing import Dict, Iterator, List, Tuple

import tensorflow as tf

TRAIN_RUN = "train"
VALIDATION_RUN = "validation"
TEST_RUN = "test"  # The experiment grid's final evaluation.
# The Estimator's own names, in jobs written before the runs were named.
_LEGACY_DIRS = {TRAIN_RUN: ".", VALIDATION_RUN: "eval", TEST_RUN: "eval_test"}
_EVENTS = "events.out.tfevents.*"

Curve = List[Tuple[int, float]]


def run_dir(model_dir: str, run: str) -> str:
  """The directory of `run` (TRAIN_RUN, VALIDATION_RUN or an evaluation's name) in a job."""
  named = os.path.join(model_dir, run)
  legacy = _LEGACY_DIRS.get(run)
  if legacy and not tf.io.gfile.glob(os.path.join(named, _EVENTS)) and tf.io.gfile.glob(
      os.path.join(model_dir, legacy, _EVENTS)):
    return os.path.normpath(os.path.join(model_dir, legacy))
  return named


def job_runs(model_dir: str) -> Dict[str, str]:
  """Run name -> directory, for each directory of a job that holds event files.

  Directories named as the Estimator names them (a legacy job) get the names
  of what they hold: the top `train`, `eval` `validation`, `eval_test` `test`.
  """
  found = {os.path.relpath(directory, model_dir): directory
           for directory, _, _ in sorted(os.walk(model_dir))
           if tf.io.gfile.glob(os.path.join(directory, _EVENTS))}
  legacy = {directory: run for run, directory in _LEGACY_DIRS.items()
            if run not in found}  # A named run wins over a legacy one (e.g. `.` with HParams only).
  return {legacy.get(relative, relative): directory for relative, directory in found.items()}


def _is_scalar(value) -> bool:
  """A number: not text (such as the Estimator's `checkpoint_path`), histogram or image."""
  if value.HasField("simple_value"):
    return True
  if not value.HasField("tensor") or value.tensor.tensor_shape.dim:
    return False
  dtype = tf.dtypes.as_dtype(value.tensor.dtype)
  return (dtype.is_floating or dtype.is_integer) and (
      value.metadata.plugin_data.plugin_name in ("", "scalars"))


def _scalar_value(value) -> float:
  return float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value


def read_all_scalars(directory: str) -> Dict[str, Curve]:
  """Tag -> (step, value) of every scalar summary in a directory's event files, by step.

  Only the directory's own files are read, not its subdirectories (other runs).
  A step written twice (a resumed job) keeps its last value.
  """
  points: Dict[str, Dict[int, float]] = {}
  # tf.io.gfile, not glob: the directory may be s3:// (or gs://).
  for path in sorted(tf.io.gfile.glob(os.path.join(directory, _EVENTS))):
    for event in _events(path):
      for value in event.summary.value:
        if _is_scalar(value):
          points.setdefault(value.tag, {})[event.step] = _scalar_value(value)
  return {tag: sorted(steps.items()) for tag, steps in sorted(points.items())}


def _events(path: str) -> Iterator:
  """The file's events; of a file still being written, those before its partial last record."""
  iterator = tf.compat.v1.train.summary_iterator(path)
  while True:
    try:
      yield next(iterator)
    except (StopIteration, tf.errors.DataLossError):
      return


def read_scalars(directory: str, tag: str) -> Curve:
  """(step, value) of one scalar summary in a directory's event files, by step."""
  return read_all_scalars(directory).get(tag, [])
