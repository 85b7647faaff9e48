"""The whole pipeline on tiny generated IDX data: real BeamDagRunner, real SQLite MLMD."""

import dataclasses
import os

import pytest
import tensorflow as tf

from pipeline.configs import PipelineConfig
from pipeline.local_runner import run_and_report, run_local
from pipeline.summary import node_executions, open_store, summarize
from tests.conftest import BEAM_TEST_ARGS, write_dataset

pytestmark = pytest.mark.slow

DATA_NODES = ["FileBasedExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator",
              "AnomalyGate"]
ALL_NODES = DATA_NODES + ["latest_blessed_model_resolver", "Trainer", "Evaluator", "Pusher"]


def _config(tmp_path, idx_dir, **overrides):
  values = dict(dataset="mnist", model="cnn", train_steps=60, eval_steps=5, batch_size=20,
                learning_rate=1e-3, accuracy_threshold=0.5, output_root=str(tmp_path / "out"),
                data_root=idx_dir, beam_args=tuple(BEAM_TEST_ARGS))
  values.update(overrides)
  return PipelineConfig(**values)


def _versions(config):
  return sorted(os.listdir(config.serving_model_dir)) if os.path.isdir(config.serving_model_dir) else []


def test_run_rerun_and_a_worse_model(tmp_path, capsys):
  idx_dir = str(tmp_path / "idx")
  write_dataset(idx_dir, n_train=300, n_eval=100, seed=2)
  config = _config(tmp_path, idx_dir)

  first = run_and_report(config)
  assert node_executions(open_store(config.metadata_path)) == {n: ["COMPLETE"] for n in ALL_NODES}
  assert first.blessed is True and first.accuracy > 0.9
  assert sorted(first.per_class_accuracy) == list(range(10))
  assert first.confusion.sum() == 100
  [version] = _versions(config)
  assert first.pushed_to == os.path.join(config.serving_model_dir, version)
  model = tf.saved_model.load(first.pushed_to)
  assert "serving_default" in model.signatures
  out = capsys.readouterr().out
  assert "blessed: yes" in out and "test accuracy:" in out
  report_dir = os.path.join(config.output_root, "reports", config.pipeline_name, first.run_id)
  assert os.path.getsize(os.path.join(report_dir, "report.png")) > 10_000
  assert "blessed: yes" in open(os.path.join(report_dir, "report.md")).read()

  # A 1-step model clears the (zero) absolute bound but not the baseline: not blessed.
  worse = dataclasses.replace(config, train_steps=1, accuracy_threshold=0.0)
  run_local(worse, show_progress=False)
  second = summarize(config.metadata_path)
  executions = node_executions(open_store(config.metadata_path))
  for node in DATA_NODES:  # Reused from the cache: no new COMPLETE execution.
    assert executions[node] == ["COMPLETE", "CACHED"], node
  assert executions["Trainer"] == ["COMPLETE", "COMPLETE"]
  assert second.blessed is False and second.accuracy < first.accuracy
  [failure] = second.failed_checks
  assert failure.startswith("sparse_categorical_accuracy (change vs. baseline)")
  assert second.pushed_to is None
  assert _versions(config) == [version]


@pytest.mark.parametrize("corrupt,message", [
    (lambda d: write_dataset(d, n_train=30, n_eval=20, seed=1, eval_label=12),
     "1 label(s) outside 0..9, first label 12"),
    (lambda d: write_dataset(d, n_train=30, n_eval=20, seed=1, image_size=32),
     "images are 32x32, expected 28x28"),
])
def test_bad_data_stops_the_run_before_training(tmp_path, corrupt, message):
  idx_dir = str(tmp_path / "idx")
  corrupt(idx_dir)
  config = _config(tmp_path, idx_dir)
  with pytest.raises(Exception, match=message.replace("(", r"\(").replace(")", r"\)")):
    run_local(config, show_progress=False)
  executions = node_executions(open_store(config.metadata_path))
  assert executions["FileBasedExampleGen"] == ["FAILED"]
  assert "Trainer" not in executions
  assert not os.path.exists(config.serving_model_dir)
