"""`python -m pipeline experiment` on tiny data: the table, the claim plots and the HParams
logs hold the numbers of the runs; finished runs are not rerun; an interrupted one resumes."""

import csv
import glob
import json
import os
import subprocess
import sys

import pytest

from pipeline.experiments import results as tables
from pipeline.experiments.grid import make_grid
from tests.conftest import write_dataset

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _hparams_sessions(runs_dir):
  """trial id -> (hparams, test_accuracy) read back from the TensorBoard event files."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from tensorboard.plugins.hparams import plugin_data_pb2  # pylint: disable=import-outside-toplevel
  sessions = {}
  for path in glob.glob(os.path.join(runs_dir, "*", "job", "events.out.tfevents.*")):
    hparams, accuracy = None, None
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.metadata.plugin_data.plugin_name == "hparams":
          data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
          if data.HasField("session_start_info"):
            hparams = {k: v.string_value or v.number_value
                       for k, v in data.session_start_info.hparams.items()}
        if value.tag == "test_accuracy":
          accuracy = float(tf.make_ndarray(value.tensor))
    if hparams:
      sessions[os.path.basename(os.path.dirname(os.path.dirname(path)))] = (hparams, accuracy)
  return sessions


@pytest.mark.slow
def test_small_grid_writes_table_plots_and_hparams_logs_and_is_not_rerun(tmp_path):
  for dataset, seed in (("mnist", 3), ("fashion_mnist", 4)):
    write_dataset(str(tmp_path / dataset), n_train=300, n_eval=60, seed=seed)
  out = tmp_path / "experiments"
  command = [sys.executable, "-m", "pipeline", "experiment", "--train-steps", "200",
             "--learning-rate", "0.001", "--lr-schedule", "constant", "--batch-size", "20",
             "--checkpoints", "2", "--output-root", str(tmp_path),
             "--data-dir", f"mnist={tmp_path / 'mnist'}",
             "--data-dir", f"fashion_mnist={tmp_path / 'fashion_mnist'}"]
  subprocess.run(command, cwd=REPO, check=True, timeout=900, capture_output=True)
  with open(out / "results.csv") as f:
    rows = list(csv.DictReader(f))
  assert [(r["dataset"], r["model"]) for r in rows] == [
      (d, m) for d in ("mnist", "fashion_mnist") for m in ("cnn", "cnn_tf_layers", "vgg_like")]
  sessions = _hparams_sessions(str(out / "runs"))
  for r in rows:
    name = f"{r['dataset']}-{r['model']}-200steps-lr0.001-constant-checkpoints2-batch_size20"
    with open(out / "runs" / name / "result.json") as f:
      result = json.load(f)
    assert float(r["test_accuracy"]) == pytest.approx(result["test"]["accuracy"])
    assert float(r["validation_accuracy"]) == pytest.approx(
        result["curves"]["validation_accuracy"][-1][1])
    assert [step for step, _ in result["curves"]["validation_accuracy"]] == [100, 200]
    hparams, accuracy = sessions[name]
    assert hparams["model"] == r["model"] and hparams["train_steps"] == 200
    assert accuracy == pytest.approx(result["test"]["accuracy"])
  markdown = (out / "results.md").read_text()
  assert markdown.count("\n| mnist |") == 3
  assert "## Claims (200steps-lr0.001-constant-checkpoints2-batch_size20)" in markdown
  for claim in (1, 2, 3):
    png = out / f"claim{claim}-200steps-lr0.001-constant-checkpoints2-batch_size20.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20000
  stamps = {p: os.stat(p).st_mtime_ns for p in glob.glob(str(out / "runs" / "*" / "*.json"))}
  subprocess.run(command, cwd=REPO, check=True, timeout=300, capture_output=True)
  assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps  # Nothing retrained.


def test_an_interrupted_cell_resumes_from_its_checkpoint(tiny_tfrecords, tmp_path):
  from pipeline.experiments.train import run_cell  # pylint: disable=import-outside-toplevel
  from trainer_module.task import checkpoint_step  # pylint: disable=import-outside-toplevel
  from trainer_module.trainer import train_and_export  # pylint: disable=import-outside-toplevel
  from trainer_module.inputs import split_files  # pylint: disable=import-outside-toplevel
  [cell] = make_grid(["mnist"], ["cnn"], {"train_steps": [60], "learning_rate": [1e-3],
                                          "lr_schedule": ["constant"], "batch_size": [20],
                                          "checkpoints": [2]})
  cell_dir = str(tmp_path / cell.name)
  # What an interruption after 30 of 60 steps leaves: a checkpoint at 30, no result.
  import dataclasses  # pylint: disable=import-outside-toplevel
  half = dataclasses.replace(cell.hparams, train_steps=30, checkpoints=1)
  train_and_export(half, split_files(tiny_tfrecords, "train"),
                   split_files(tiny_tfrecords, "validation"),
                   os.path.join(cell_dir, "job"), os.path.join(cell_dir, "export", "0"))
  assert checkpoint_step(os.path.join(cell_dir, "job")) == 30
  result = run_cell(cell, tiny_tfrecords, cell_dir)
  assert checkpoint_step(os.path.join(cell_dir, "job")) == 60
  assert [s for s, _ in result["curves"]["validation_accuracy"]] == [30, 60]
  assert result["test"]["accuracy"] > 0.9


def _row(dataset, model, accuracy, loss, train_loss, validation=(0.3, 0.3)):
  return {"dataset": dataset, "model": model, "test_accuracy": accuracy, "test_loss": loss,
          "final_train_loss": train_loss, "validation_loss": validation[1],
          "min_validation_loss": validation[0], "min_validation_loss_step": 500}


def test_claims_are_decided_by_the_numbers():
  rows = [_row("mnist", "cnn", 0.991, 0.03, 0.01),
          _row("mnist", "cnn_tf_layers", 0.989, 0.03, 0.01),
          _row("fashion_mnist", "cnn", 0.91, 0.28, 0.05, validation=(0.25, 0.31)),
          _row("fashion_mnist", "vgg_like", 0.93, 0.22, 0.15)]
  claims = {c.number: c for c in tables.check_claims(rows, "S")}
  assert [claims[n].verdict for n in (1, 2, 3)] == ["confirmed", "confirmed", "confirmed"]
  assert "accuracy gap 0.0020 (within 0.005)" in claims[1].evidence
  assert any("validation loss rose from its minimum 0.2500 (step 500) to 0.3100" in e
             for e in claims[3].evidence)
  rows[1]["test_accuracy"] = 0.97
  rows[3]["test_accuracy"] = 0.90
  claims = {c.number: c for c in tables.check_claims(rows, "S")}
  assert claims[1].verdict == "refuted" and claims[3].verdict == "refuted"
  assert [c.verdict for c in tables.check_claims(rows[:1], "S")] == ["not run"] * 3
