"""Trains one grid cell through the pipeline's own trainer code, and records what it did.

A cell's directory holds `job/` (checkpoints and TensorBoard events, with the
HParams plugin's summary) and, once finished, `result.json`. A finished cell
is never trained again; an interrupted one resumes from its last checkpoint.
"""

import json
import logging
import os
import time
from typing import Any, Dict, List, Tuple

import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from pipeline.data import contract
from pipeline.data.files import write_atomically
from pipeline.experiments.grid import Cell
from trainer_module import events
from trainer_module.inputs import make_input_fn, split_files
from trainer_module.trainer import build_estimator, train_and_export

_LOG = logging.getLogger(__name__)
RESULT_FILE = "result.json"
# Metrics shown in the HParams dashboard, as (tag, the run it is in).
_HPARAMS_METRICS = [(tag, run) for run in (events.TEST_RUN, events.VALIDATION_RUN)
                    for tag in ("accuracy", "loss")]


def load_result(cell_dir: str) -> Dict[str, Any]:
  """A finished cell's result, or {} if it has not finished."""
  try:
    with open(os.path.join(cell_dir, RESULT_FILE)) as f:
      return json.load(f)
  except FileNotFoundError:
    return {}


def curves(job_dir: str) -> Dict[str, List[Tuple[int, float]]]:
  """Train loss, and validation loss and accuracy (overall and per class) at each checkpoint."""
  train = events.read_all_scalars(events.run_dir(job_dir, events.TRAIN_RUN))
  validation = events.read_all_scalars(events.run_dir(job_dir, events.VALIDATION_RUN))
  out = {"train_loss": train.get("loss", []), "validation_loss": validation.get("loss", []),
         "validation_accuracy": validation.get("accuracy", [])}
  for k in range(contract.NUM_CLASSES):
    out[f"validation_accuracy/class_{k}"] = validation.get(f"accuracy/class_{k}", [])
  return out


def write_hparams_config(logdir: str) -> None:
  """The HParams dashboard's columns, written once at the root of all runs."""
  with tf.summary.create_file_writer(logdir).as_default():
    hparams_api.hparams_config(
        hparams=[hparams_api.HParam(name) for name in
                 ("dataset", "model", "train_steps", "learning_rate", "lr_schedule",
                  "batch_size", "seed")],
        metrics=[hparams_api.Metric(tag, group=group) for tag, group in _HPARAMS_METRICS])


def _write_hparams_summary(cell: Cell, job_dir: str) -> None:
  """The session's HParams at the job's top; its metrics are in the job's `test/` and
  `validation/` runs, which the Estimator wrote."""
  with tf.summary.create_file_writer(job_dir).as_default():
    hparams_api.hparams(cell.hparams_dict(), trial_id=cell.name)


def run_cell(cell: Cell, tfrecord_dir: str, cell_dir: str) -> Dict[str, Any]:
  """Trains `cell` (or resumes it), scores it on the test split, writes RESULT_FILE.

  Training uses the train split and evaluates on validation at each
  checkpoint; the test split is read once, at the end.
  """
  done = load_result(cell_dir)
  if done:
    return done
  job_dir = os.path.join(cell_dir, "job")
  train_files = split_files(tfrecord_dir, "train")
  validation_files = split_files(tfrecord_dir, "validation")
  start = time.monotonic()
  report = train_and_export(cell.hparams, train_files, validation_files, model_dir=job_dir,
                            export_dir=os.path.join(cell_dir, "export", str(int(time.time()))))
  seconds = time.monotonic() - start
  estimator = build_estimator(cell.hparams, job_dir)
  # The checkpoint that was exported: the best on validation with early stopping.
  test = estimator.evaluate(make_input_fn(split_files(tfrecord_dir, "test"),
                                          cell.hparams.batch_size, training=False),
                            checkpoint_path=report.get("best_checkpoint"),
                            name=events.TEST_RUN)  # Into job/test: a run of its own.
  test = {k: float(v) for k, v in test.items() if k != "global_step"}
  _write_hparams_summary(cell, job_dir)
  result = {"cell": cell.name, "settings": cell.settings, "hparams": cell.hparams_dict(),
            "train_seconds": round(seconds, 1), "train_loop_seconds": round(report["train_seconds"], 1),
            "test": test, "curves": curves(job_dir)}
  write_atomically(os.path.join(cell_dir, RESULT_FILE), json.dumps(result, indent=1).encode())
  _LOG.info("%s: test accuracy %.4f, loss %.4f, %.0f s", cell.name, test["accuracy"],
            test["loss"], seconds)
  return result
