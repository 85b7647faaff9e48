"""`predict`, `score` and the pushed TFLite file, on a real trained and exported SavedModel."""

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from pipeline.data import contract, idx
from pipeline.serving import predict
from trainer_module import serving, tflite
from tests.conftest import idx_name, saved_model_accuracy

FASHION = contract.CLASS_NAMES["fashion_mnist"]
# image, class name, probability[, true class and a mark when wrong]
LINE = re.compile(r"^(?P<image>\S+)\s+(?P<name>.+?)\s+(?P<p>[01]\.\d{4})"
                  r"(?:\s+\(true: (?P<true>.+?)\)(?P<wrong>\s+<- wrong)?)?$")


def _test_idx(tiny_tfrecords):
  """The raw IDX test files that `tiny_tfrecords` was prepared from."""
  directory = os.path.join(os.path.dirname(tiny_tfrecords), "idx")
  return (os.path.join(directory, idx_name("test_images")),
          os.path.join(directory, idx_name("test_labels")))


def test_predict_prints_a_line_per_image_and_the_accuracy_of_serving_default(
    served_model, tiny_tfrecords):
  base, version = served_model
  images, labels = _test_idx(tiny_tfrecords)
  # The base dir, as TF Serving is pointed at: its newest version answers.
  run = subprocess.run([sys.executable, "-m", "pipeline", "predict", "--model-dir", base,
                        images, "--labels", labels], capture_output=True, text=True,
                       timeout=300, check=False)
  assert run.returncode == 0, run.stderr
  lines = run.stdout.splitlines()
  assert len(lines) == 101 and f"with {version}" in run.stderr
  parsed = [LINE.match(line) for line in lines[:100]]
  assert all(parsed), lines[:100]
  assert [m["image"] for m in parsed] == [f"{idx_name('test_images')}[{i}]" for i in range(100)]
  assert {m["name"] for m in parsed} <= set(FASHION) and all(0 < float(m["p"]) <= 1
                                                              for m in parsed)
  truth = [FASHION[k] for k in idx.read_labels(labels)]
  assert [m["true"] for m in parsed] == truth
  assert [bool(m["wrong"]) for m in parsed] == [m["name"] != t for m, t in zip(parsed, truth)]
  # The accuracy is the SavedModel's on the same 100 test examples, scored independently.
  expected = saved_model_accuracy(version, tiny_tfrecords, "test")
  right = round(expected * 100)
  assert lines[-1] == f"accuracy {expected:.4f} ({right}/100 images)" and expected > 0.9
  assert sum("<- wrong" in line for line in lines) == 100 - right


def test_predict_batches_within_max_batch_and_labels_from_the_model(served_model, tiny_tfrecords):
  _, version = served_model
  images, labels = _test_idx(tiny_tfrecords)
  pixels = idx.read_images(images)
  model = tf.saved_model.load(version)
  whole, whole_classes = serving.saved_model_predict(model, pixels, batch=100)
  split, split_classes = serving.saved_model_predict(model, pixels, batch=7)  # 15 requests.
  np.testing.assert_allclose(split, whole, atol=1e-6)
  np.testing.assert_array_equal(split_classes, whole_classes)
  assert serving.model_class_names(model) == list(FASHION)
  lines = predict.format_lines(["a", "bb"], whole[:2], whole_classes[:2], FASHION,
                               idx.read_labels(labels)[:2].astype(np.int64))
  assert lines[0].startswith(f"a   {FASHION[whole_classes[0]]} ")


def test_each_pushed_version_carries_a_tflite_model_that_agrees(served_model, tiny_tfrecords,
                                                                tmp_path):
  from components.atomic_pusher import push_atomically
  _, version = served_model
  base = str(tmp_path / "pushed")
  pushed = os.path.join(base, push_atomically(version, base))
  assert sorted(os.listdir(base)) == [os.path.basename(pushed)]  # No partial copy left.
  path = os.path.join(pushed, tflite.TFLITE_FILE)
  with open(os.path.join(pushed, tflite.LABELS_FILE), encoding="utf-8") as f:
    assert f.read().splitlines() == list(FASHION)
  pixels = idx.read_images(_test_idx(tiny_tfrecords)[0])
  # The pushed copy still loads as the SavedModel it was; TFLite runs the `pixels` signature.
  by_model, model_classes = serving.saved_model_predict(tf.saved_model.load(pushed), pixels, 64)
  by_tflite, tflite_classes = tflite.tflite_predict(path, pixels, 64)
  agreement = float(np.mean(model_classes == tflite_classes))
  print(f"TFLite agrees with the SavedModel on {agreement:.4f} of {len(pixels)} test images; "
        f"max |p diff| {np.max(np.abs(by_model - by_tflite)):.2e}")
  assert agreement == 1.0
  np.testing.assert_allclose(by_tflite, by_model, atol=1e-4)
  [line] = predict.predict_lines(path, True, ["x"], pixels[:1])
  assert LINE.match(line)["name"] == FASHION[model_classes[0]]


def test_score_takes_the_base_dir_and_names_the_classes(served_model, tiny_tfrecords, tmp_path):
  from trainer_module import score
  base, version = served_model
  older = os.path.join(str(tmp_path / "base"), "1")
  shutil.copytree(version, older)
  newest = shutil.copytree(version, os.path.join(str(tmp_path / "base"), "20"))
  report = score.score(score.resolve_version(str(tmp_path / "base")),
                       [os.path.join(tiny_tfrecords, "Split-test", f) for f in
                        os.listdir(os.path.join(tiny_tfrecords, "Split-test"))])
  assert report["model_dir"] == newest and report["examples"] == 100
  assert report["accuracy"] == pytest.approx(saved_model_accuracy(version, tiny_tfrecords))
  assert set(report["per_class"]) == set(FASHION)


def test_mnist_digits_are_shown_as_digits():
  assert [serving.display_name(name) for name in contract.class_names("mnist")][:2] == [
      "digit 0", "digit 1"]
  assert serving.display_name("Ankle boot") == "Ankle boot"


@pytest.mark.parametrize("pixels,problem", [
    (np.full((1, 784), np.nan, np.float32), "finite"),
    (np.full((1, 784), 255.0, np.float32), r"in \[0, 1\]"),
    (np.zeros((1, 28, 28), np.float32), r"\[N, 784\]"),
    (np.zeros((1, 784), np.int32), "uint8 or float"),
])
def test_tflite_input_is_checked_like_the_saved_models(pixels, problem):
  with pytest.raises(ValueError, match=problem):
    tflite.checked_pixels(pixels)


def test_a_model_that_does_not_load_is_one_line_naming_its_path(tmp_path):
  version = tmp_path / "1"
  version.mkdir()
  (version / "saved_model.pb").write_bytes(b"not a protobuf \xff\xfe")
  text = tmp_path / "model.tflite"
  text.write_text("hello\n")
  pixels = np.zeros((1, 784), np.uint8)
  with pytest.raises(ValueError) as error:
    predict.predict_lines(str(version), False, ["x"], pixels)
  assert str(error.value).startswith(f"{version}: not a loadable SavedModel (")
  assert "\n" not in str(error.value)
  with pytest.raises(ValueError) as error:
    predict.predict_lines(str(text), True, ["x"], pixels)
  assert str(error.value).startswith(f"{text}: not a TFLite model")
  assert "\n" not in str(error.value)
