"""The best checkpoint on validation, and early stopping when it stops improving.

`BestCheckpoint` is an Estimator exporter: `train_and_evaluate` calls it after
every evaluation. When validation accuracy improves it copies that checkpoint
to MODEL_DIR/best/ (the Estimator keeps only the last few checkpoints, so the
best one would otherwise be deleted) and records it in MODEL_DIR/BEST_FILE:

  {"step": 1200, "accuracy": 0.91, "checkpoint": ".../best/model.ckpt-1200",
   "evaluations": [[400, 0.88], [800, 0.90], [1200, 0.91], [1600, 0.905]],
   "evaluations_since_best": 1, "patience": 3, "stopped_early": false}

`EarlyStopping` stops training once `patience` evaluations in a row have not
improved on it. Evaluation runs inside the checkpoint saver, whose hook the
Estimator runs before the training hooks, so the stop comes in the step that
was evaluated: no further step or evaluation is spent.
"""

import json
import logging
import os
from typing import Any, Dict, List, Optional

import tensorflow as tf
from tensorflow import estimator as tf_estimator

from pipeline.data.files import write_atomically

_LOG = logging.getLogger(__name__)
BEST_FILE = "best_checkpoint.json"
BEST_DIR = "best"
METRIC = "accuracy"


def improves(accuracy: float, best: Optional[float]) -> bool:
  """Whether `accuracy` beats the best so far; a tie keeps the earlier checkpoint."""
  return best is None or accuracy > best


def read_best(model_dir: str) -> Dict[str, Any]:
  """MODEL_DIR/BEST_FILE, or {} when no evaluation has been recorded there."""
  path = os.path.join(model_dir, BEST_FILE)
  if not tf.io.gfile.exists(path):
    return {}
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def describe_best(model_dir: str) -> Optional[str]:
  """One line naming the exported checkpoint's step, for run summaries; None without a record."""
  record = read_best(model_dir) if model_dir else {}
  if not record.get("step"):
    return None
  last = record["evaluations"][-1][0] if record.get("evaluations") else record["step"]
  how = "stopped early" if record.get("stopped_early") else "trained"
  return (f"exported the best checkpoint on validation: step {record['step']} (validation "
          f"accuracy {record['accuracy']:.4f}); {how} to step {last}")


class BestCheckpoint(tf_estimator.Exporter):
  """Keeps a copy of the checkpoint with the highest validation accuracy."""

  def __init__(self, model_dir: str, patience: int):
    self.model_dir = model_dir
    # A resumed job continues from what its earlier run recorded.
    self.record: Dict[str, Any] = {"step": None, "accuracy": None, "checkpoint": None,
                                   "evaluations": [], "evaluations_since_best": 0,
                                   **read_best(model_dir), "patience": patience,
                                   "stopped_early": False}
    self.metrics: Dict[str, float] = {}  # The best evaluation's metrics, from this process.

  @property
  def name(self) -> str:
    return "best_checkpoint"

  @property
  def exhausted(self) -> bool:
    """Whether `patience` evaluations in a row have not improved on the best."""
    return self.record["evaluations_since_best"] >= self.record["patience"]

  def export(self, estimator, export_path, checkpoint_path, eval_result,
             is_the_final_export) -> Optional[str]:
    """Records this evaluation; copies its checkpoint if it is the best so far."""
    del estimator, export_path, is_the_final_export  # The exporter interface's; unused.
    step, accuracy = int(eval_result["global_step"]), float(eval_result[METRIC])
    evaluations: List[List[float]] = self.record["evaluations"]
    if evaluations and evaluations[-1][0] == step:
      return self.record["checkpoint"]  # The final evaluation of a step already seen.
    evaluations.append([step, accuracy])
    if improves(accuracy, self.record["accuracy"]):
      old = self.record["checkpoint"]
      self.record.update(step=step, accuracy=accuracy, evaluations_since_best=0,
                         checkpoint=self._copy(checkpoint_path))
      self.metrics = {k: float(v) for k, v in eval_result.items()}
      self._write()
      if old and old != self.record["checkpoint"]:
        for path in tf.io.gfile.glob(old + ".*"):  # Only copies this class made.
          tf.io.gfile.remove(path)
    else:
      self.record["evaluations_since_best"] += 1
      self._write()
    _LOG.info("validation accuracy %.4f at step %d; best %.4f at step %d", accuracy, step,
              self.record["accuracy"], self.record["step"])
    return self.record["checkpoint"]

  def mark_stopped(self) -> None:
    """Records that training stopped early."""
    self.record["stopped_early"] = True
    self._write()

  def _copy(self, checkpoint_path: str) -> str:
    """Copies a checkpoint's index and data files to BEST_DIR; returns the copy's prefix."""
    target = os.path.join(self.model_dir, BEST_DIR, os.path.basename(checkpoint_path))
    tf.io.gfile.makedirs(os.path.dirname(target))
    for path in tf.io.gfile.glob(checkpoint_path + ".*"):
      if path.endswith(".meta"):
        continue  # The graph is rebuilt from model_fn when exporting.
      tf.io.gfile.copy(path, target + path[len(checkpoint_path):], overwrite=True)
    return target

  def _write(self) -> None:
    write_atomically(os.path.join(self.model_dir, BEST_FILE),
                     json.dumps(self.record, indent=1).encode())


class EarlyStopping(tf_estimator.SessionRunHook):
  """Stops training when `best` has seen `patience` evaluations without improvement."""

  def __init__(self, best: BestCheckpoint):
    self.best = best

  def after_run(self, run_context, run_values) -> None:
    if self.best.exhausted and not self.best.record["stopped_early"]:
      _LOG.info("stopping early: no better validation accuracy in %d evaluations; best %.4f "
                "at step %d", self.best.record["patience"], self.best.record["accuracy"],
                self.best.record["step"])
      self.best.mark_stopped()
      run_context.request_stop()
