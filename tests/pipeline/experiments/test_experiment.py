"""`python -m pipeline experiment` on tiny data: the table, the claim plots and the HParams
logs hold the numbers of the runs; finished runs are not rerun; an interrupted one resumes."""

import csv
import glob
import json
import os
import subprocess
import sys

import pytest

from pipeline.experiments.grid import make_grid
from tests.conftest import write_dataset

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _hparams_sessions(runs_dir):
  """trial id -> (hparams, test accuracy) read back from the TensorBoard event files."""
  import tensorflow as tf
  from tensorboard.plugins.hparams import plugin_data_pb2
  from trainer_module import events
  sessions = {}
  for job in glob.glob(os.path.join(runs_dir, "*", "job")):
    hparams = None
    for path in glob.glob(os.path.join(job, "events.out.tfevents.*")):
      for event in tf.compat.v1.train.summary_iterator(path):
        for value in event.summary.value:
          if value.metadata.plugin_data.plugin_name == "hparams":
            data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
            if data.HasField("session_start_info"):
              hparams = {k: v.string_value or v.number_value
                         for k, v in data.session_start_info.hparams.items()}
    [(_, accuracy)] = events.read_scalars(os.path.join(job, "test"), "accuracy")
    sessions[os.path.basename(os.path.dirname(job))] = (hparams, accuracy)
  return sessions


@pytest.mark.slow
def test_small_grid_writes_table_plots_and_hparams_logs_and_is_not_rerun(tmp_path):
  for dataset, seed in (("mnist", 3), ("fashion_mnist", 4)):
    write_dataset(str(tmp_path / dataset), n_train=300, n_eval=60, seed=seed)
  out = tmp_path / "experiments"
  command = [sys.executable, "-m", "pipeline", "experiment", "--train-steps", "40",
             "--learning-rate", "0.001", "--lr-schedule", "constant", "--batch-size", "20",
             "--checkpoints", "2", "--output-root", str(tmp_path),
             "--data-dir", f"mnist={tmp_path / 'mnist'}",
             "--data-dir", f"fashion_mnist={tmp_path / 'fashion_mnist'}"]
  subprocess.run(command, cwd=REPO, check=True, timeout=900, capture_output=True)
  from trainer_module import events
  with open(out / "results.csv") as f:
    rows = list(csv.DictReader(f))
  assert [(r["dataset"], r["model"]) for r in rows] == [
      (d, m) for d in ("mnist", "fashion_mnist") for m in ("cnn", "cnn_tf_layers", "vgg_like")]
  sessions = _hparams_sessions(str(out / "runs"))
  for r in rows:
    name = f"{r['dataset']}-{r['model']}-40steps-lr0.001-constant-checkpoints2-batch_size20"
    with open(out / "runs" / name / "result.json") as f:
      result = json.load(f)
    assert float(r["test_accuracy"]) == pytest.approx(result["test"]["accuracy"])
    assert float(r["validation_accuracy"]) == pytest.approx(
        result["curves"]["validation_accuracy"][-1][1])
    assert [step for step, _ in result["curves"]["validation_accuracy"]] == [20, 40]
    hparams, accuracy = sessions[name]
    assert hparams["model"] == r["model"] and hparams["train_steps"] == 40
    assert accuracy == pytest.approx(result["test"]["accuracy"])
    # TensorBoard's runs for the cell: HParams at the top, then what each run holds.
    assert sorted(events.job_runs(str(out / "runs" / name / "job"))) == [
        ".", "test", "train", "validation"]
    with open(out / "scalars" / f"{name}.csv") as f:
      scalars = list(csv.DictReader(f))
    assert [(int(x["step"]), pytest.approx(float(x["value"]))) for x in scalars
            if x["run"] == "validation" and x["tag"] == "accuracy"] == [
                tuple(p) for p in result["curves"]["validation_accuracy"]]
  markdown = (out / "results.md").read_text()
  assert markdown.count("\n| mnist |") == 3
  assert "## Claims (40steps-lr0.001-constant-checkpoints2-batch_size20)" in markdown
  assert "3. **inconclusive at this budget**" in markdown  # One seed per model.
  for claim in (1, 2, 3):
    png = f"claim{claim}-40steps-lr0.001-constant-checkpoints2-batch_size20.png"
    assert f"Plot: [{png}]({png})" in markdown
    assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / png).stat().st_size > 20000
  stamps = {p: os.stat(p).st_mtime_ns for p in glob.glob(str(out / "runs" / "*" / "*.json"))}
  subprocess.run(command, cwd=REPO, check=True, timeout=300, capture_output=True)
  assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps  # Nothing retrained.


def test_an_interrupted_cell_resumes_from_its_checkpoint(tiny_tfrecords, tmp_path):
  from pipeline.experiments.train import run_cell
  from trainer_module.task import checkpoint_step
  from trainer_module.trainer import train_and_export
  from trainer_module.inputs import split_files
  [cell] = make_grid(["mnist"], ["cnn"], {"train_steps": [60], "learning_rate": [1e-3],
                                          "lr_schedule": ["constant"], "batch_size": [20],
                                          "checkpoints": [2]})
  cell_dir = str(tmp_path / cell.name)
  # What an interruption after 30 of 60 steps leaves: a checkpoint at 30, no result.
  import dataclasses
  half = dataclasses.replace(cell.hparams, train_steps=30, checkpoints=1)
  train_and_export(half, split_files(tiny_tfrecords, "train"),
                   split_files(tiny_tfrecords, "validation"),
                   os.path.join(cell_dir, "job"), os.path.join(cell_dir, "export", "0"))
  assert checkpoint_step(os.path.join(cell_dir, "job")) == 30
  result = run_cell(cell, tiny_tfrecords, cell_dir)
  assert checkpoint_step(os.path.join(cell_dir, "job")) == 60
  assert [s for s, _ in result["curves"]["validation_accuracy"]] == [30, 60]
  assert result["test"]["accuracy"] > 0.9


def _write_finished(out, name, result):
  """A finished run as the grid leaves it: result.json and the job's event files."""
  import tensorflow as tf
  job = out / "runs" / name / "job"
  for run, key, tag in (("train", "train_loss", "loss"), ("validation", "validation_loss", "loss"),
                        ("validation", "validation_accuracy", "accuracy")):
    with tf.summary.create_file_writer(str(job / run)).as_default():
      for step, value in result["curves"][key]:
        tf.summary.scalar(tag, value, step=step)
  (out / "runs" / name / "result.json").write_text(json.dumps(result))


def test_reports_link_only_the_plots_written_and_export_scalars(tmp_path):
  from pipeline.experiments.run import write_reports
  from tests.pipeline.experiments.test_claims import _result
  cells = make_grid(["fashion_mnist"], ["cnn", "vgg_like"], {
      "train_steps": [20000], "learning_rate": [1e-3], "lr_schedule": ["constant"]})
  cnn, vgg = (_result("fashion_mnist", model, accuracy) for model, accuracy in
              (("cnn", 0.92), ("vgg_like", 0.93)))
  _write_finished(tmp_path, *cnn)
  written = write_reports(cells, str(tmp_path))
  markdown = (tmp_path / "results.md").read_text()
  assert "3. **not run**" in markdown and ".png" not in markdown
  assert not list(tmp_path.glob("*.png"))
  scalars_csv = tmp_path / "scalars" / f"{cnn[0]}.csv"
  assert written == [str(tmp_path / "results.csv"), str(tmp_path / "results.md"),
                     str(scalars_csv)]
  lines = scalars_csv.read_text().splitlines()
  assert lines[0] == "run,tag,step,value" and "validation,accuracy,20000,0.91" in lines
  assert len(lines) == 1 + 20 + 4 + 4
  _write_finished(tmp_path, *vgg)
  write_reports(cells, str(tmp_path))
  markdown = (tmp_path / "results.md").read_text()
  png = "claim3-20000steps-lr0.001-constant.png"
  assert "3. **inconclusive at this budget**" in markdown
  assert f"Plot: [{png}]({png})" in markdown and (tmp_path / png).exists()
