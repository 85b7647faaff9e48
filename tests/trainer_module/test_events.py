"""Reading TensorBoard scalars back, and finding a job's runs under both layouts."""

import tensorflow as tf

from trainer_module import events


def _v1_scalars(directory, tag, points):
  """Scalars as the Estimator writes them (simple_value), through a v1 FileWriter, and the
  checkpoint path it writes beside each evaluation (a string tensor, no plugin)."""
  with tf.Graph().as_default():
    writer = tf.compat.v1.summary.FileWriter(str(directory))
    for step, value in points:
      path = tf.make_tensor_proto(f"/m/model.ckpt-{step}", dtype=tf.string)
      values = [tf.compat.v1.Summary.Value(tag=tag, simple_value=value),
                tf.compat.v1.Summary.Value(tag="checkpoint_path", tensor=path)]
      writer.add_summary(tf.compat.v1.Summary(value=values), step)
    writer.close()


def test_reads_both_summary_kinds_and_skips_non_scalars(tmp_path):
  _v1_scalars(tmp_path, "loss", [(10, 2.0), (20, 1.5), (10, 1.75)])  # Step 10 rewritten.
  with tf.summary.create_file_writer(str(tmp_path)).as_default():
    tf.summary.scalar("accuracy", 0.75, step=20)
    tf.summary.text("checkpoint_path", "/m/model.ckpt-20", step=20)
    tf.summary.histogram("activations", [1.0, 2.0], step=20)
  scalars = events.read_all_scalars(str(tmp_path))
  assert scalars == {"accuracy": [(20, 0.75)], "loss": [(10, 1.75), (20, 1.5)]}
  assert events.read_scalars(str(tmp_path), "loss") == [(10, 1.75), (20, 1.5)]
  assert events.read_scalars(str(tmp_path), "missing") == []


def test_runs_are_named_for_what_they_hold_in_both_layouts(tmp_path):
  named, legacy = tmp_path / "named", tmp_path / "legacy"
  for run in ("train", "validation", "test"):
    _v1_scalars(named / run, "loss", [(1, 1.0)])
  with tf.summary.create_file_writer(str(named)).as_default():  # HParams only, at the top.
    tf.summary.text("hparams_stand_in", "x", step=0)
  for directory in ("", "eval", "eval_test"):
    _v1_scalars(legacy / directory, "loss", [(1, 1.0)])
  assert sorted(events.job_runs(str(named))) == [".", "test", "train", "validation"]
  assert events.job_runs(str(legacy)) == {
      "train": str(legacy), "validation": str(legacy / "eval"), "test": str(legacy / "eval_test")}
  assert events.run_dir(str(named), "validation") == str(named / "validation")
  assert events.run_dir(str(legacy), "validation") == str(legacy / "eval")
  assert events.run_dir(str(legacy), "train") == str(legacy)
  assert events.run_dir(str(tmp_path / "empty"), "train") == str(tmp_path / "empty" / "train")


def test_a_file_still_being_written_yields_its_complete_records(tmp_path):
  _v1_scalars(tmp_path, "loss", [(1, 1.0), (2, 0.5)])
  [path] = tmp_path.glob("events.out.tfevents.*")
  data = path.read_bytes()
  path.write_bytes(data[:-5])  # A writer caught mid-record.
  assert events.read_scalars(str(tmp_path), "loss") == [(1, 1.0)]
