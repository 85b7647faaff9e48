"""The whole pipeline on tiny generated IDX data: real BeamDagRunner, real SQLite MLMD."""

import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from pipeline.data import contract, idx
from pipeline.data.idx import IdxError
from pipeline.reporting.summary import STATE_NAMES, executions_by_node, open_store, summarize
from pipeline.runners.local import local_config, run_and_report, run_local
from pipeline.layout import metadata_path
from tests.conftest import BEAM_TEST_ARGS, write_dataset
from trainer_module.hparams import HParams

pytestmark = pytest.mark.slow

DATA_NODES = ["FileBasedExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator",
              "AnomalyGate"]
ALL_NODES = DATA_NODES + ["ServedBaseline", "Trainer", "Evaluator", "Pusher"]


def node_executions(store):
  """Node id -> states of all its executions over every run, oldest first."""
  return {node: [STATE_NAMES[e.last_known_state] for e in executions]
          for node, executions in executions_by_node(store).items()}


def _config(tmp_path, idx_dir, train_steps=60, accuracy_threshold=0.5):
  hparams = HParams(train_steps=train_steps, eval_steps=5, batch_size=20, dataset="mnist")
  return local_config(hparams, accuracy_threshold, idx_dir, str(tmp_path / "out"),
                      BEAM_TEST_ARGS)


def _versions(config):
  return sorted(os.listdir(config.serving_dir)) if os.path.isdir(config.serving_dir) else []


def test_run_rerun_and_a_worse_model(tmp_path, capsys):
  idx_dir = str(tmp_path / "idx")
  write_dataset(idx_dir, n_train=300, n_eval=100, seed=2)
  config = _config(tmp_path, idx_dir)
  root = str(tmp_path / "out")
  db = metadata_path(root, config.pipeline_name)

  first = run_and_report(config, root)
  assert node_executions(open_store(db)) == {n: ["COMPLETE"] for n in ALL_NODES}
  assert first.blessed is True and first.accuracy > 0.9
  assert sorted(first.per_class_accuracy) == list(range(10))
  assert first.confusion.sum() == 100
  [version] = _versions(config)
  assert first.pushed_to == os.path.join(config.serving_dir, version)
  model = tf.saved_model.load(first.pushed_to)
  assert "serving_default" in model.signatures
  out, err = capsys.readouterr()
  assert "blessed: yes" in out and "test accuracy:" in out
  # stderr is no terminal here: one plain line per component, the Pusher's too, and no bar.
  assert "\r" not in err
  assert sorted(line.split()[1] for line in err.splitlines()
                if line.startswith("  done ")) == sorted(ALL_NODES)
  for node in ALL_NODES:  # The timing table has them all.
    assert re.search(rf"^  {node} +[\d.]+ s  COMPLETE$", out, re.M), (node, out)
  assert "baseline: none (nothing served yet)" in out
  assert f"tensorboard --logdir {first.uris['ModelRun']}" in out
  report_dir = os.path.join(root, "reports", config.pipeline_name, first.run_id)
  assert os.path.getsize(os.path.join(report_dir, "report.png")) > 10_000
  with open(os.path.join(report_dir, "report.md"), encoding="utf-8") as f:
    report_md = f.read()
  assert "blessed: yes" in report_md and report_md.startswith(
      f"# Pipeline run {first.run_id}: cnn on mnist\n")

  # A rerun with nothing changed: the Trainer is cached, so the model being served is the
  # candidate itself. It is evaluated alone, and nothing new is published.
  rerun = run_and_report(config, root)
  assert rerun.blessed is True and rerun.pushed_to is None
  assert rerun.already_pushed_as == first.pushed_to
  assert rerun.baseline.startswith("none: this model is already the one being served")
  assert _versions(config) == [version]
  out = capsys.readouterr().out
  assert f"pushed:  nothing new: {first.pushed_to} already holds this model" in out
  # The same model, scored the same: no second report, the first one named.
  assert f"report: nothing new: same as report {report_dir}\n" in out
  assert os.listdir(os.path.dirname(report_dir)) == [first.run_id]
  with open(os.path.join(first.pushed_to, "mnist_tfx_push.json")) as f:
    assert json.load(f)["model_uri"] == first.uris["Model"]

  # A 1-step model clears the (zero) absolute bound but not the baseline: not blessed.
  worse = _config(tmp_path, idx_dir, train_steps=1, accuracy_threshold=0.0)
  run_local(worse, root, show_progress=False)
  second = summarize(db)
  executions = node_executions(open_store(db))
  for node in DATA_NODES:  # Reused from the cache: no new COMPLETE execution.
    assert executions[node] == ["COMPLETE", "CACHED", "CACHED"], node
  assert executions["Trainer"] == ["COMPLETE", "CACHED", "COMPLETE"]
  assert second.blessed is False and second.accuracy < first.accuracy
  [failure] = second.failed_checks
  assert failure.startswith("sparse_categorical_accuracy (change vs. baseline)")
  assert second.pushed_to is None
  assert _versions(config) == [version]
  # It names the model it lost to: the version being served, the first run's model.
  assert second.baseline == (f"the model being served, {first.pushed_to} (pushed from "
                             f"{first.uris['Model']})")
  # The baseline step looked again after the push, then found the same version cached.
  assert executions["ServedBaseline"] == ["COMPLETE", "COMPLETE", "CACHED"]


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
  root = str(tmp_path / "out")
  with pytest.raises(IdxError, match=re.escape(message)):
    run_local(config, root, show_progress=False)
  executions = node_executions(open_store(metadata_path(root, config.pipeline_name)))
  assert executions["FileBasedExampleGen"] == ["FAILED"]
  assert "Trainer" not in executions
  assert not os.path.exists(config.serving_dir)


def test_a_skewed_test_split_stops_at_the_anomaly_gate(tmp_path):
  from components.anomaly_gate import DataAnomaliesError
  idx_dir = str(tmp_path / "idx")
  write_dataset(idx_dir, n_train=100, n_eval=40, seed=1)
  # Test: every label a 3. Each label is valid, so only the train/test comparison sees it.
  labels = np.full(40, 3, np.uint8)
  idx.write_idx(os.path.join(idx_dir, contract.idx_file_name("test", "labels")), labels)
  config = _config(tmp_path, idx_dir)
  root = str(tmp_path / "out")
  with pytest.raises(DataAnomaliesError, match=r"feature 'label': train vs test: "):
    run_local(config, root, show_progress=False)
  executions = node_executions(open_store(metadata_path(root, config.pipeline_name)))
  assert executions["AnomalyGate"] == ["FAILED"] and "Trainer" not in executions
