"""Early stopping on validation accuracy, and the export of the best checkpoint."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import saved_model_accuracy
from trainer_module.best import BEST_FILE, BestCheckpoint, describe_best, read_best
from trainer_module.hparams import HParams
from trainer_module.inputs import make_input_fn, split_files
from trainer_module.trainer import build_estimator


def _checkpoint(model_dir, step):
  """Files named as the Estimator names a checkpoint's; their bytes say which step."""
  prefix = os.path.join(model_dir, f"model.ckpt-{step}")
  for suffix in (".index", ".data-00000-of-00001", ".meta"):
    with open(prefix + suffix, "w") as f:
      f.write(f"{step}{suffix}")
  return prefix


def test_keeps_a_copy_of_the_best_and_counts_evaluations_since(tmp_path):
  model_dir = str(tmp_path)
  best = BestCheckpoint(model_dir, patience=2)
  for step, accuracy in ((10, 0.5), (20, 0.7), (30, 0.7), (40, 0.6)):
    best.export(None, None, _checkpoint(model_dir, step),
                {"global_step": step, "accuracy": accuracy, "loss": 1.0}, False)
    os.remove(os.path.join(model_dir, f"model.ckpt-{step}.index"))  # As keep_checkpoint_max does.
  record = read_best(model_dir)
  assert (record["step"], record["accuracy"], record["evaluations_since_best"]) == (20, 0.7, 2)
  assert record["evaluations"] == [[10, 0.5], [20, 0.7], [30, 0.7], [40, 0.6]]
  assert best.exhausted and best.metrics["global_step"] == 20
  # Only the best copy is left, without the graph (.meta), and it is intact.
  assert sorted(os.listdir(tmp_path / "best")) == ["model.ckpt-20.data-00000-of-00001",
                                                   "model.ckpt-20.index"]
  assert open(record["checkpoint"] + ".index").read() == "20.index"
  # The same step evaluated again (the final evaluation) is not counted twice.
  best.export(None, None, record["checkpoint"], {"global_step": 40, "accuracy": 0.6}, True)
  assert read_best(model_dir)["evaluations_since_best"] == 2
  assert describe_best(model_dir) == ("exported the best checkpoint on validation: step 20 "
                                      "(validation accuracy 0.7000); trained to step 40")
  assert describe_best(str(tmp_path / "elsewhere")) is None
  # A resumed job continues from the record.
  resumed = BestCheckpoint(model_dir, patience=3)
  assert resumed.record["step"] == 20 and not resumed.exhausted


@pytest.mark.extended
def test_task_stops_early_and_exports_the_best_checkpoint(tiny_tfrecords, tmp_path):
  """Patience 1 on separable data: accuracy saturates, so training stops long before
  --train-steps, and the SavedModel is the best checkpoint's, not the last one's."""
  base, job = str(tmp_path / "models"), str(tmp_path / "job")
  run = subprocess.run(
      [sys.executable, "-m", "trainer_module.task", "--data-dir", tiny_tfrecords,
       "--model", "cnn", "--train-steps", "1000", "--eval-steps", "10", "--batch-size", "10",
       "--seed", "1", "--early-stopping-patience", "1", "--export-dir", base, "--job-dir", job],
      capture_output=True, text=True, timeout=600, check=False)
  assert run.returncode == 0, run.stderr
  report = json.loads(run.stdout)
  record = read_best(job)
  last_step = tf.train.load_variable(tf.train.latest_checkpoint(job), "global_step")
  assert report["stopped_early"] and record["stopped_early"]
  assert report["local_steps"] == last_step < 1000
  assert report["best_step"] == record["step"] == report["validation_metrics"]["global_step"] < last_step
  assert report["best_record"] == os.path.join(job, BEST_FILE)
  assert report["best_checkpoint"] == record["checkpoint"] == os.path.join(
      job, "best", f"model.ckpt-{record['step']}")
  evaluations = record["evaluations"]
  assert evaluations[-1][0] == last_step and evaluations[-1][1] <= record["accuracy"]
  assert record["accuracy"] == max(a for _, a in evaluations)
  # The export is the best checkpoint: the reported accuracy is its accuracy on the
  # validation split, and its probabilities are that checkpoint's, not the last one's.
  assert saved_model_accuracy(report["export_dir"], tiny_tfrecords, "validation") == (
      pytest.approx(report["validation_metrics"]["accuracy"], abs=1e-6))
  estimator = build_estimator(HParams(train_steps=1000, batch_size=10, precision="float32"),
                              job)
  validation = make_input_fn(split_files(tiny_tfrecords, "validation"), 10, training=False)

  def probabilities(checkpoint):
    return np.array([p["probabilities"] for p in estimator.predict(
        validation, predict_keys=["probabilities"], checkpoint_path=checkpoint)])

  served = _served_probabilities(report["export_dir"], tiny_tfrecords)
  np.testing.assert_allclose(served, probabilities(record["checkpoint"]), rtol=1e-5, atol=1e-6)
  # Relative: a saturated model's probabilities are all near 0 or 1.
  assert not np.allclose(served, probabilities(tf.train.latest_checkpoint(job)), rtol=1e-2, atol=0)


def _served_probabilities(export_dir, tfrecord_dir):
  files = split_files(tfrecord_dir, "validation")
  serialized = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
  return tf.saved_model.load(export_dir).signatures["serving_default"](
      examples=tf.constant(serialized))["probabilities"].numpy()
