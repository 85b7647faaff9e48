"""run_fn driven by TFX's own GenericExecutor, then the exported SavedModel loaded back."""

import glob
import logging
import os
import resource
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from pipeline.data import contract
from trainer_module import events
from trainer_module.features import FEATURE_SPEC

from tests.support.tfx_trainer import HPARAMS, run_trainer


@pytest.fixture(scope="module")
def trained(tiny_tfrecords, tmp_path_factory):
  logger = logging.getLogger("trainer_module.trainer")
  records = []
  handler = logging.Handler(logging.INFO)
  handler.emit = lambda record: records.append(record.getMessage())
  logger.addHandler(handler)
  logger.setLevel(logging.INFO)
  try:
    dirs = run_trainer(tiny_tfrecords, str(tmp_path_factory.mktemp("trained")))
  finally:
    logger.removeHandler(handler)
  return dirs + (records,)


def _scalars(directory, tag):
  return [value for _, value in events.read_scalars(directory, tag)]


def _eval_examples(tfrecord_dir):
  files = glob.glob(os.path.join(tfrecord_dir, "Split-test", "*.gz"))
  serialized = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
  parsed = tf.io.parse_example(serialized, FEATURE_SPEC)
  pixels = tf.cast(tf.io.decode_raw(parsed["image_raw"], tf.uint8), tf.float32) / 255.0
  return tf.constant(serialized), pixels, parsed["label"].numpy()


def test_training_reports_its_progress(trained):
  progress = [m for m in trained[2] if m.startswith("training step")]
  assert [m.split(",")[0] for m in progress] == [f"training step {s}/80" for s in range(8, 81, 8)]


def test_training_learns_and_logs_for_tensorboard(trained):
  _, model_run, records = trained
  # TensorBoard names runs by directory: exactly `train` and `validation`, no `.` or `eval`.
  assert sorted(events.job_runs(model_run)) == ["train", "validation"]
  losses = _scalars(os.path.join(model_run, "train"), "loss")
  assert len(losses) >= 3 and losses[-1] < losses[0] / 2
  accuracy = _scalars(os.path.join(model_run, "validation"), "accuracy")
  assert accuracy[-1] > 0.9
  assert _scalars(os.path.join(model_run, "validation"), "accuracy/class_3")
  assert glob.glob(os.path.join(model_run, "model.ckpt-80.index"))
  # The final INFO line names the split its figures come from.
  [final] = [m for m in records if "final metrics" in m]
  assert f"final metrics on the validation split at step 80: accuracy {accuracy[-1]:.4f}" in final


def test_histograms_and_graph_are_in_the_train_run(trained):
  train = os.path.join(trained[1], "train")
  assert any(event.graph_def for path in glob.glob(os.path.join(train, "events.out.tfevents.*"))
             for event in tf.compat.v1.train.summary_iterator(path))
  tags = {value.tag for path in glob.glob(os.path.join(train, "events.out.tfevents.*"))
          for event in tf.compat.v1.train.summary_iterator(path)
          for value in event.summary.value if value.metadata.plugin_data.plugin_name == "histograms"
          or value.HasField("histo")}
  assert tags == {"activations/conv1", "activations/dense"}


def test_both_signatures_agree_and_are_accurate(trained, tiny_tfrecords):
  model = tf.saved_model.load(trained[0])
  serialized, pixels, labels = _eval_examples(tiny_tfrecords)
  by_example = model.signatures["serving_default"](examples=serialized)
  by_pixels = model.signatures["pixels:serving_default"](pixels=pixels)
  np.testing.assert_allclose(by_example["probabilities"], by_pixels["probabilities"], atol=1e-6)
  np.testing.assert_array_equal(by_example["classes"], by_pixels["classes"])
  assert by_example["probabilities"].shape == (100, 10)
  assert np.mean(by_example["classes"].numpy() == labels) > 0.9
  classified = model.signatures["classification"](inputs=serialized)
  names = [name.encode() for name in contract.CLASS_NAMES["fashion_mnist"]]
  assert classified["classes"][0].numpy().tolist() == names
  np.testing.assert_allclose(classified["scores"], by_example["probabilities"], atol=1e-6)


def test_wrong_image_size_fails_with_the_expected_size(trained):
  bad = tf.train.Example(features=tf.train.Features(feature={
      "image_raw": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"\0" * 783]))}))
  model = tf.saved_model.load(trained[0])
  with pytest.raises(tf.errors.InvalidArgumentError, match="image_raw must be exactly 784 bytes"):
    model.signatures["serving_default"](examples=tf.constant([bad.SerializeToString()]))


def test_saved_model_cli_lists_the_signatures(trained):
  cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
  out = subprocess.run([cli, "show", "--all", "--dir", trained[0]], capture_output=True,
                       text=True, check=True).stdout
  for name in ("serving_default", "pixels:serving_default", "classification"):
    assert f"signature_def['{name}']" in out
  assert "tensorflow/serving/classify" in out and "dtype: DT_STRING" in out


@pytest.mark.parametrize("config,steps,message", [
    ({"hparams": {"model": "lenet"}}, 10, "model 'lenet' is unknown"),
    ({"hparams": {"batch_size": 0}}, 10, "batch_size must be positive, got 0"),
    ({"hparams": {"learnig_rate": 0.1}}, 10,
     r"custom_config has unknown hyperparameter\(s\) \['learnig_rate'\]"),
    ({"hparams": {"train_steps": 5}}, 10,
     r"custom_config has unknown hyperparameter\(s\) \['train_steps'\]"),
    ({"hparams": {"distribute": "parameter_server"}}, 10,
     "distribute parameter_server needs a TF_CONFIG cluster with at least one ps task"),
    # proto3 cannot tell 0 from unset: TFX hands run_fn None ("train forever"), refused too.
    (HPARAMS, 0, "train_steps must be a whole number, got None"),
])
def test_bad_settings_fail_before_training(tiny_tfrecords, tmp_path, config, steps, message):
  with pytest.raises(ValueError, match=message):
    run_trainer(tiny_tfrecords, str(tmp_path), train_steps=steps, custom_config=config)
  assert not glob.glob(str(tmp_path / "model_run" / "*"))


def test_missing_and_empty_splits_fail_before_training(tmp_path):
  (tmp_path / "data" / "Split-train").mkdir(parents=True)
  with pytest.raises(FileNotFoundError, match="no TFRecord files for the train split.*prepare-data"):
    run_trainer(str(tmp_path / "data"), str(tmp_path / "out"))
  with tf.io.TFRecordWriter(str(tmp_path / "data" / "Split-train" / "a.gz"), "GZIP"):
    pass
  with pytest.raises(ValueError, match="the train split is empty: 1 file"):
    run_trainer(str(tmp_path / "data"), str(tmp_path / "out"))
  assert not glob.glob(str(tmp_path / "out" / "model_run" / "*"))


@pytest.fixture(scope="module")
def model(trained):
  return tf.saved_model.load(trained[0])


def test_an_empty_batch_gets_an_empty_answer(model):
  out = model.signatures["serving_default"](examples=tf.constant([], tf.string))
  assert out["probabilities"].shape == (0, 10) and out["classes"].shape == (0,)
  out = model.signatures["pixels:serving_default"](pixels=tf.zeros([0, 784]))
  assert out["probabilities"].shape == (0, 10)


@pytest.mark.parametrize("value,message", [
    (float("nan"), "pixels must be finite numbers"),
    (float("inf"), "pixels must be finite numbers"),
    (1e30, r"pixels must be in \[0, 1\] \(scale 0..255 pixels by 1/255\)"),
    (255.0, r"pixels must be in \[0, 1\]"),
    (-0.5, r"pixels must be in \[0, 1\]"),
])
def test_bad_pixels_are_refused_with_a_message(model, value, message):
  pixels = np.full((2, 784), 0.5, np.float32)
  pixels[1, 7] = value
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    model.signatures["pixels:serving_default"](pixels=tf.constant(pixels))


def test_batches_above_the_maximum_are_refused(model, tiny_tfrecords):
  from trainer_module.export import MAX_BATCH
  with pytest.raises(tf.errors.InvalidArgumentError, match=f"at most {MAX_BATCH} images"):
    model.signatures["pixels:serving_default"](pixels=tf.zeros([MAX_BATCH + 1, 784]))
  serialized, _, _ = _eval_examples(tiny_tfrecords)
  too_many = tf.tile(serialized[:1], [MAX_BATCH + 1])
  with pytest.raises(tf.errors.InvalidArgumentError, match=f"at most {MAX_BATCH} examples"):
    model.signatures["serving_default"](examples=too_many)
  assert model.signatures["serving_default"](
      examples=tf.tile(serialized[:1], [MAX_BATCH]))["classes"].shape == (MAX_BATCH,)


def test_warmup_requests_replay_against_the_model(trained, model):
  from tensorflow_serving.apis import prediction_log_pb2
  path = os.path.join(trained[0], "assets.extra", "tf_serving_warmup_requests")
  logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
          for r in tf.data.TFRecordDataset(path)]
  assert [log.WhichOneof("log_type") for log in logs] == ["predict_log", "classify_log"]
  predict = logs[0].predict_log.request
  out = model.signatures[predict.model_spec.signature_name](
      examples=tf.constant(tf.make_ndarray(predict.inputs["examples"])))
  assert out["probabilities"].shape == (1, 10)
  classify = logs[1].classify_log.request
  example = classify.input.example_list.examples[0].SerializeToString()
  out = model.signatures[classify.model_spec.signature_name](inputs=tf.constant([example]))
  assert out["scores"].shape == (1, 10)


def _example(values):
  return tf.train.Example(features=tf.train.Features(feature={"image_raw": tf.train.Feature(
      bytes_list=tf.train.BytesList(value=values))})).SerializeToString()


GOOD = _example([bytes(784)])
NOT_AN_EXAMPLE = r"each of examples must be a serialized tf.Example \(the bytes of"
ONE_IMAGE = r"each tf.Example must hold exactly one image_raw value \(784 bytes"
EXAMPLES_SHAPE = r"examples must be a 1-D batch \[N\] of serialized tf.Example strings"
PIXELS_SHAPE = r"pixels must be float32 \[N, 784\]: N images of 28x28 pixels in \[0, 1\]"


@pytest.mark.parametrize("examples,message", [
    # Before, these three got a TypeError from TF's binding: ParseExample's error quotes
    # the raw bytes, which Python could not decode.
    ([b"\xff\xfe\xfd not UTF-8"], NOT_AN_EXAMPLE),
    ([bytes(np.random.default_rng(0).integers(0, 256, 64, dtype=np.uint8))], NOT_AN_EXAMPLE),
    ([GOOD, GOOD[:50]], NOT_AN_EXAMPLE),  # Truncated.
    ([_example([bytes(784), bytes(784)])], ONE_IMAGE),  # Was "Can't parse serialized Example".
    ([tf.train.Example().SerializeToString()], ONE_IMAGE),
    # A scalar: was "slice index 0 … out of bounds".
    (GOOD, EXAMPLES_SHAPE + r".*got shape\] \[\]"),
    ([[GOOD, GOOD]], EXAMPLES_SHAPE + r".*got shape\] \[1 2\]"),
])
def test_malformed_examples_are_told_what_the_signature_expects(model, examples, message):
  for signature, name in (("serving_default", "examples"), ("classification", "inputs")):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
      model.signatures[signature](**{name: tf.constant(examples)})


@pytest.mark.parametrize("shape", [[1, 28, 28], [784], [1, 783], [1, 784, 1]])
def test_misshaped_pixels_are_told_the_expected_shape(model, shape):
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=PIXELS_SHAPE + rf".*got shape\] \[{' '.join(map(str, shape))}\]"):
    model.signatures["pixels:serving_default"](pixels=tf.zeros(shape))


def test_an_oversized_example_is_refused_by_size_before_parsing(trained):
  """Through a TF1 Session, as TF Serving runs a SavedModel.

  Not through `model.signatures[...]`: TF's Python binding first formats the input
  into an error message it then drops (70 s for 100 MB, before any op runs; README).
  """
  from trainer_module.export import MAX_EXAMPLE_BYTES
  with tf.compat.v1.Session(graph=tf.Graph()) as session:
    signature = tf.compat.v1.saved_model.loader.load(
        session, ["serve"], trained[0]).signature_def["serving_default"]
    feed, fetch = signature.inputs["examples"].name, signature.outputs["classes"].name
    assert session.run(fetch, {feed: [GOOD]}).shape == (1,)
    huge = [GOOD, _example([bytes(100 << 20)])]  # 100 MB of image_raw.
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    too_big = rf"each serialized tf.Example must be at most {MAX_EXAMPLE_BYTES} bytes"
    with pytest.raises(tf.errors.InvalidArgumentError, match=too_big):
      session.run(fetch, {feed: huge})
    # Before: parsed first (a copy of all of it), then refused by the pixel check.
    assert time.monotonic() - start < 10
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 500 << 10  # KiB


def test_a_wrong_dtype_is_refused_by_tensorflow_before_the_graph_runs(model):
  """TF's own check, in the function call: no graph op of ours can reword it (README)."""
  with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a float tensor"):
    model.signatures["pixels:serving_default"](pixels=tf.zeros([1, 784], tf.int64))
