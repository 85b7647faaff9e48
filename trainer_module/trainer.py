"""Trainer building blocks shared by the TFX `run_fn` and the standalone task."""

import functools
import logging
import os
import time
from typing import Any, Dict, Optional, Sequence, Tuple

import tensorflow as tf
from tensorflow import estimator as tf_estimator

from trainer_module import precision
from trainer_module.best import BEST_FILE, BestCheckpoint, EarlyStopping
from trainer_module.distribution import ClusterRole, cluster_role
from trainer_module.events import TRAIN_RUN, VALIDATION_RUN
from trainer_module.hparams import HParams, InvalidSetting
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
    self.local_steps = 0  # Steps this process ran; in a cluster, a share of the global step.
    self.variables_device = ""  # Where the global step lives, e.g. /job:ps/task:0.
    self.last_loss = float("nan")
    self.seconds = 0.0  # From the session's start to this process's last step.

  def begin(self) -> None:
    global_step = tf.compat.v1.train.get_global_step()
    self.variables_device = global_step.device
    self._fetches = {"step": global_step,
                     "loss": tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.LOSSES)[-1]}
    self._start = time.monotonic()

  def before_run(self, run_context):
    return tf_estimator.SessionRunArgs(self._fetches)

  def after_run(self, run_context, run_values) -> None:
    self.local_steps += 1
    self.last_loss = float(run_values.results["loss"])
    self.seconds = time.monotonic() - self._start
    step = int(run_values.results["step"]) + 1  # Fetched before this step's increment.
    if step % self.every == 0 or step == self.total_steps:
      _LOG.info("training step %d/%d, loss %.4f, %.0f s", step, self.total_steps,
                run_values.results["loss"], time.monotonic() - self._start)


def named_eval_dir(model_dir: str, name: Optional[str] = None) -> str:
  """Where an evaluation writes its summaries: `validation/`, or `<name>/` for a named one
  (the Estimator's own choice is `eval/` and `eval_<name>/`)."""
  return os.path.join(model_dir, name or VALIDATION_RUN)


def redirect_training_events(model_dir: str) -> None:
  """Sends the Estimator's training events to `model_dir/train` instead of `model_dir`.

  At the top of the model dir, TensorBoard would show them as a run named `.`.
  The Estimator's hooks (summaries, steps per second, and the checkpoint saver's
  graph and notes) all write through FileWriterCache, keyed by `model_dir`, in
  every training path, distributed ones included; so the cached writer for
  `model_dir` is made one that writes into `train/`. Checkpoints stay put.
  """
  cache = tf.compat.v1.summary.FileWriterCache
  with cache._lock:
    if model_dir not in cache._cache:
      with tf.Graph().as_default():  # A v1 FileWriter refuses to be made eagerly.
        cache._cache[model_dir] = tf.compat.v1.summary.FileWriter(
            os.path.join(model_dir, TRAIN_RUN))


def build_estimator(hparams: HParams, model_dir: str,
                    strategy: Optional[Any] = None) -> tf_estimator.Estimator:
  """An Estimator checkpointing under `model_dir`, evaluating into `model_dir/validation`.

  Its training events go into `model_dir/train` once redirect_training_events
  is called (train_and_export does, on the chief). RunConfig reads TF_CONFIG,
  so the same call trains distributed when a cluster is described there;
  `strategy` (see distribution.make_strategy) chooses how. `hparams.precision`
  "auto" is resolved here, for this model on this CPU (`estimator.params
  ["precision"]` says what was chosen); a seed becomes the graph-level seed of
  every graph the Estimator builds.
  """
  train_steps = hparams.train_steps
  checkpoint_every = max(1, train_steps // hparams.checkpoints)
  config = tf_estimator.RunConfig(
      model_dir=model_dir,
      train_distribute=strategy,
      tf_random_seed=hparams.seed,
      save_checkpoints_steps=checkpoint_every,
      keep_checkpoint_max=hparams.keep_checkpoint_max,
      save_summary_steps=max(1, min(100, train_steps // 20)),
      log_step_count_steps=max(1, min(100, train_steps // 10)))
  params = hparams.estimator_params()
  params["precision"] = precision.resolve(hparams.precision, hparams.model)
  estimator = tf_estimator.Estimator(model_fn=model_fn, config=config, params=params)
  # Estimator refuses subclasses that override its methods, so the instance's own eval_dir,
  # which evaluate(), train_and_evaluate() and early-stopping hooks all call, is replaced.
  estimator.eval_dir = functools.partial(named_eval_dir, estimator.model_dir)
  return estimator


def make_train_input_fn(hparams: HParams, train_files: Sequence[str]):
  """The training input_fn, with the augmentation that `hparams` asks for."""
  return make_input_fn(train_files, hparams.batch_size, training=True,
                       augment_shift=hparams.augment_shift if hparams.augment else 0,
                       augment_flip=hparams.augment_flip, seed=hparams.seed)


def seed_tensorflow(hparams: HParams) -> None:
  """Seeds TensorFlow's, Keras', Python's and NumPy's generators; can make ops deterministic.

  Both are process-wide. Op determinism stays on for the rest of the process
  (under TFX's in-process runner, the components after the Trainer too).
  """
  if hparams.seed is not None:
    # Not only tf.random.set_seed: unseeded Keras initializers draw their seeds from
    # Keras' own generator (else Python's `random`), which this seeds too.
    tf.keras.utils.set_random_seed(hparams.seed)
  if hparams.deterministic:
    tf.config.experimental.enable_op_determinism()


# A checkpoint the chief deletes (keep_checkpoint_max) while a slow evaluator restores it:
# Saver.restore raises a plain ValueError with this text; TF's evaluator loop skips only a
# NotFoundError. Seen on a loaded 2-core machine in test_cluster's ps+evaluator run.
_DELETED_CHECKPOINT = "is not a valid checkpoint"
_EVALUATOR_ATTEMPTS = 5


def _train_and_evaluate(estimator, train_spec, eval_spec, role: ClusterRole):
  """`tf_estimator.train_and_evaluate`; an evaluator task whose checkpoint was deleted under
  it starts again from the newest one instead of failing the cluster."""
  for attempt in range(1, _EVALUATOR_ATTEMPTS + 1):
    try:
      return tf_estimator.train_and_evaluate(estimator, train_spec, eval_spec)
    except ValueError as e:
      if (role.task_type != "evaluator" or _DELETED_CHECKPOINT not in str(e)
          or attempt == _EVALUATOR_ATTEMPTS):
        raise
      _LOG.warning("the checkpoint being evaluated was deleted by the chief (%s); "
                   "evaluating the newest one", str(e).splitlines()[0])
  return None


def train_and_export(hparams: HParams, train_files: Sequence[str], eval_files: Sequence[str],
                     model_dir: str, export_dir: str, strategy: Optional[Any] = None,
                     role: Optional[ClusterRole] = None) -> Dict[str, Any]:
  """Trains with evaluation at each checkpoint; the chief also exports for serving.

  Returns what this process did: its task, the steps it ran, where the
  variables lived, the precision it computed in, and on the chief the final
  validation metrics and the export path. With `early_stopping_patience` training
  may stop early, and the export, its metrics and `best_step` are the best
  checkpoint's on validation (recorded in MODEL_DIR/best_checkpoint.json).
  In a cluster, `train_and_evaluate` returns nothing, so the chief runs one
  final evaluation itself.
  """
  role = role or cluster_role()
  if hparams.early_stopping_patience and role.cluster:
    raise InvalidSetting("early_stopping_patience", "needs the evaluations of a run on one "
                         "machine; drop it, or train without a TF_CONFIG cluster")
  seed_tensorflow(hparams)
  estimator = build_estimator(hparams, model_dir, strategy)
  progress = TrainingProgress(hparams.train_steps)
  # The tasks the Estimator has write training events: the chief, or worker 0 beside a master.
  if role.is_chief or (role.task_type == "worker" and role.task_index == 0):
    redirect_training_events(estimator.model_dir)
  best = (BestCheckpoint(model_dir, hparams.early_stopping_patience)
          if hparams.early_stopping_patience else None)
  eval_input = make_input_fn(eval_files, hparams.batch_size, training=False)
  train_spec = tf_estimator.TrainSpec(
      make_train_input_fn(hparams, train_files), max_steps=hparams.train_steps,
      hooks=[progress] + ([EarlyStopping(best)] if best else []))
  eval_spec = tf_estimator.EvalSpec(eval_input, steps=hparams.eval_steps, throttle_secs=0,
                                    start_delay_secs=0, exporters=[best] if best else None)
  result = _train_and_evaluate(estimator, train_spec, eval_spec, role)
  report: Dict[str, Any] = {"task": role.name, "local_steps": progress.local_steps,
                            "last_loss": progress.last_loss,
                            "train_seconds": progress.seconds,
                            "variables_device": progress.variables_device,
                            "precision": estimator.params["precision"]}
  if not role.is_chief:
    return report
  metrics, checkpoint = _exported_checkpoint(estimator, eval_input, hparams.eval_steps, result,
                                             best)
  export_serving_model(estimator, export_dir, checkpoint)
  _LOG.info("exported %s to %s; %s", hparams.model, export_dir, validation_line(metrics))
  report.update(export_dir=export_dir,
                validation_metrics={k: float(v) for k, v in metrics.items()})
  if best:
    report.update(best_step=best.record["step"], stopped_early=best.record["stopped_early"],
                  best_checkpoint=checkpoint, best_record=os.path.join(model_dir, BEST_FILE))
  return report


def _exported_checkpoint(estimator: tf_estimator.Estimator, eval_input, eval_steps: int,
                         result, best: Optional[BestCheckpoint]) -> Tuple[Dict[str, Any],
                                                                          Optional[str]]:
  """The checkpoint to export (None: the latest) and its validation metrics."""
  if best and best.record["checkpoint"]:
    checkpoint = best.record["checkpoint"]
    # A resumed job's best may come from an earlier process: evaluate it again.
    metrics = best.metrics or estimator.evaluate(eval_input, steps=eval_steps,
                                                 checkpoint_path=checkpoint, name="best")
    return metrics, checkpoint
  if result and result[0]:
    return result[0], None
  return estimator.evaluate(eval_input, steps=eval_steps), None


def validation_line(metrics: Dict[str, Any]) -> str:
  """The final evaluation's figures, named for the split they come from (not the test split).

  Per-class accuracies are left to TensorBoard; the line would be unreadable.
  """
  figures = ", ".join(f"{k} {float(v):.4f}" for k, v in sorted(metrics.items())
                      if k != "global_step" and not k.startswith("accuracy/class_"))
  return f"final metrics on the validation split at step {metrics.get('global_step', '?')}: {figures}"


def wait_for_export(export_dir: str, timeout_s: float = 900.0, poll_s: float = 2.0) -> None:
  """Blocks until the chief's SavedModel is in `export_dir` (a path shared by the cluster).

  TFX's Trainer executor fails any task that returns before a model exists, so
  a worker or evaluator that finishes first waits for the chief's export.
  """
  deadline = time.monotonic() + timeout_s
  target = os.path.join(export_dir, "saved_model.pb")
  while not tf.io.gfile.exists(target):
    if time.monotonic() > deadline:
      raise RuntimeError(f"the chief exported no model to {export_dir} within {timeout_s:.0f} s "
                         "after this task finished; see the chief's log")
    time.sleep(poll_s)
