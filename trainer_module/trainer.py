"""Trainer building blocks shared by the TFX `run_fn` and the standalone task."""

import logging
import time
from typing import Dict, Sequence

import tensorflow as tf
from tensorflow import estimator as tf_estimator

from trainer_module.hparams import HParams
from trainer_module.export import export_serving_model
from trainer_module.inputs import make_input_fn
from trainer_module.model_fn import model_fn

_LOG = logging.getLogger(__name__)


class TrainingProgress(tf_estimator.SessionRunHook):
  """Logs "step N/total, loss" about ten times a run, through this module's logger.

  TensorFlow's own step logging is silenced in the default CLI output, and the
  Trainer is the longest component: this keeps its progress visible.
  """

  def __init__(self, total_steps: int):
    self.total_steps = total_steps
    self.every = max(1, total_steps // 10)
    self._start = 0.0

  def begin(self) -> None:
    self._fetches = {"step": tf.compat.v1.train.get_global_step(),
                     "loss": tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.LOSSES)[-1]}
    self._start = time.monotonic()

  def before_run(self, run_context):  # pylint: disable=unused-argument
    return tf_estimator.SessionRunArgs(self._fetches)

  def after_run(self, run_context, run_values) -> None:  # pylint: disable=unused-argument
    step = int(run_values.results["step"]) + 1  # Fetched before this step's increment.
    if step % self.every == 0 or step == self.total_steps:
      _LOG.info("training step %d/%d, loss %.4f, %.0f s", step, self.total_steps,
                run_values.results["loss"], time.monotonic() - self._start)


def build_estimator(hparams: HParams, model_dir: str) -> tf_estimator.Estimator:
  """An Estimator checkpointing and summarizing under `model_dir`.

  RunConfig reads TF_CONFIG, so the same call trains distributed when a
  cluster is described there.
  """
  train_steps = hparams.train_steps
  checkpoint_every = max(1, train_steps // hparams.checkpoints)
  config = tf_estimator.RunConfig(
      model_dir=model_dir,
      save_checkpoints_steps=checkpoint_every,
      keep_checkpoint_max=hparams.keep_checkpoint_max,
      save_summary_steps=max(1, min(100, train_steps // 20)),
      log_step_count_steps=max(1, min(100, train_steps // 10)))
  return tf_estimator.Estimator(model_fn=model_fn, config=config,
                                params=hparams.estimator_params())


def train_and_export(hparams: HParams, train_files: Sequence[str], eval_files: Sequence[str],
                     model_dir: str, export_dir: str) -> Dict[str, float]:
  """Trains with evaluation at each checkpoint, exports for serving, returns final metrics."""
  estimator = build_estimator(hparams, model_dir)
  train_spec = tf_estimator.TrainSpec(
      make_input_fn(train_files, hparams.batch_size, training=True),
      max_steps=hparams.train_steps, hooks=[TrainingProgress(hparams.train_steps)])
  eval_spec = tf_estimator.EvalSpec(
      make_input_fn(eval_files, hparams.batch_size, training=False), steps=hparams.eval_steps,
      throttle_secs=0, start_delay_secs=0)
  metrics, _ = tf_estimator.train_and_evaluate(estimator, train_spec, eval_spec)
  export_serving_model(estimator, export_dir)
  _LOG.info("exported %s to %s; final eval %s", hparams.model, export_dir, metrics)
  return {k: float(v) for k, v in (metrics or {}).items()}
