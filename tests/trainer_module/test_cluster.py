"""Distributed training on 127.0.0.1: real TF_CONFIG clusters of processes.

Each test bounds its cluster with run_cluster's timeout, which stops every task
(a ps never exits by itself, and a worker waits up to 7200 s for a missing chief).
"""

import os
import sys

import pytest
import tensorflow as tf

from tests.conftest import saved_model_accuracy
from trainer_module import cluster
from trainer_module.events import read_scalars
from trainer_module.task import checkpoint_step

pytestmark = pytest.mark.slow
TIMEOUT_S = 300


def _task_args(data_dir, tmp_path, steps, *extra):
  return ["--data-dir", data_dir, "--train-steps", str(steps), "--eval-steps", "5",
          "--batch-size", "20", "--export-dir", str(tmp_path / "models"), *extra]


def test_ps_chief_worker_and_evaluator(tiny_tfrecords, tmp_path):
  steps = 150
  reports = cluster.run_cluster(
      cluster.task_command(_task_args(tiny_tfrecords, tmp_path, steps)), workers=1, ps=1,
      evaluator=True, timeout_s=TIMEOUT_S)
  assert set(reports) == {"chief:0", "worker:0", "evaluator:0"}
  global_step = checkpoint_step(str(tmp_path / "models-job"))
  assert global_step >= steps
  chief, worker = reports["chief:0"], reports["worker:0"]
  # Asynchronous updates: each trains its share, and the shares add up to the global step.
  assert chief["local_steps"] > 0 and worker["local_steps"] > 0
  assert steps <= chief["local_steps"] + worker["local_steps"] <= global_step + 2
  assert chief["variables_device"] == worker["variables_device"] == "/job:ps/task:0"
  [version] = os.listdir(tmp_path / "models")  # Only the chief exported.
  assert chief["export_dir"] == str(tmp_path / "models" / version)
  assert "export_dir" not in worker and "export_dir" not in reports["evaluator:0"]
  assert saved_model_accuracy(chief["export_dir"], tiny_tfrecords) > 0.9
  # The evaluator evaluated checkpoints on its own, up to the last one.
  validation = str(tmp_path / "models-job" / "validation")
  evaluated = [step for step, _ in read_scalars(validation, "accuracy")]
  assert len(evaluated) >= 2 and max(evaluated) >= steps


def test_multi_worker_mirrored_keeps_workers_in_step(tiny_tfrecords, tmp_path):
  reports = cluster.run_cluster(
      cluster.task_command(_task_args(tiny_tfrecords, tmp_path, 40,
                                      "--distribute", "multi_worker_mirrored")),
      workers=1, ps=0, evaluator=False, timeout_s=TIMEOUT_S)
  chief, worker = reports["chief:0"], reports["worker:0"]
  assert chief["local_steps"] == worker["local_steps"] == 40  # Synchronous: the same steps,
  assert chief["last_loss"] == worker["last_loss"]  # and the same all-reduced loss.
  assert len(os.listdir(tmp_path / "models")) == 1 and "export_dir" not in worker


def test_tfx_run_fn_under_a_legacy_master_cluster(tiny_tfrecords, tmp_path):
  """As Vertex AI and a TFJob run the pipeline's Trainer: every task runs the executor."""
  command = [sys.executable, "-m", "tests.trainer_module.tfx_trainer", tiny_tfrecords,
             str(tmp_path / "out"), "60"]
  reports = cluster.run_cluster(command, workers=1, ps=1, evaluator=False,
                                timeout_s=TIMEOUT_S, chief_type="master")
  assert set(reports) == {"master:0", "worker:0"}
  serving = reports["master:0"]["serving_model_dir"]
  # The worker waited for the master's export instead of failing TFX's "no model" check.
  assert reports["worker:0"] == {"serving_model_dir": serving, "exists": True}
  assert "serving_default" in tf.saved_model.load(serving).signatures
  assert checkpoint_step(str(tmp_path / "out" / "model_run")) >= 60


def test_a_failing_task_stops_the_cluster_with_one_line(tmp_path):
  command = cluster.task_command(_task_args(str(tmp_path / "missing"), tmp_path, 10))
  with pytest.raises(cluster.ClusterError,
                     match=r"task (chief|worker):0 exited with status 1: error: --data-dir .*"
                     r"missing: no such directory"):
    cluster.run_cluster(command, workers=1, ps=1, evaluator=False, timeout_s=60)


def test_a_task_past_the_timeout_stops_the_cluster(tiny_tfrecords, tmp_path):
  command = cluster.task_command(_task_args(tiny_tfrecords, tmp_path, 100000))
  with pytest.raises(cluster.ClusterError, match="timed out after 20 s waiting for chief:0"):
    cluster.run_cluster(command, workers=0, ps=1, evaluator=False, timeout_s=20)
