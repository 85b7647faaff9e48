"""What `predict` accepts, checked before TensorFlow loads: model dirs, pictures, IDX files."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from pipeline import cli
from pipeline.data import idx
from pipeline.serving import images
from trainer_module import serving as versions
from tests.conftest import idx_name


def _version(base, name):
  os.makedirs(os.path.join(base, name))
  open(os.path.join(base, name, "saved_model.pb"), "wb").close()
  return os.path.join(base, name)


def test_the_newest_numbered_version_is_chosen_as_tf_serving_would(tmp_path):
  base = str(tmp_path / "cnn")
  _version(base, "99")
  newest = _version(base, "1700000000")
  os.makedirs(os.path.join(base, "1800000000"))  # No saved_model.pb: not a version.
  os.makedirs(os.path.join(base, ".partial-1-1900000000"))
  assert versions.resolve_version(base) == newest
  assert versions.resolve_version(newest) == newest  # A version dir is taken as it is.


@pytest.mark.parametrize("setup,message", [
    (lambda p: None, "--model-dir {p} does not exist;"),
    (lambda p: open(p, "w").close(), "--model-dir {p} is not a directory;"),
    (os.makedirs, "--model-dir {p} holds neither saved_model.pb nor a numbered version"),
])
def test_a_model_dir_without_a_model_is_refused(tmp_path, setup, message):
  path = str(tmp_path / "m")
  setup(path)
  with pytest.raises(versions.ModelDirError, match="^" + message.format(p=path)):
    versions.resolve_version(path)


def test_pictures_are_read_and_converted_with_a_note(tmp_path):
  gray = np.arange(784, dtype=np.uint8).reshape(28, 28)
  Image.fromarray(gray).save(tmp_path / "a.png")
  Image.fromarray(np.zeros((56, 40, 3), np.uint8)).save(tmp_path / "b.jpg")
  loaded = images.load_images([str(tmp_path / "a.png"), str(tmp_path / "b.jpg")])
  assert loaded.names == [str(tmp_path / "a.png"), str(tmp_path / "b.jpg")]
  np.testing.assert_array_equal(loaded.pixels[0], gray.reshape(784))  # Lossless: unchanged.
  assert loaded.pixels.shape == (2, 784) and loaded.pixels.dtype == np.uint8
  assert loaded.notes == [f"note: {tmp_path / 'b.jpg'}: converted RGB to grayscale, "
                          "resized 40x56 to 28x28"]


def test_an_idx_images_file_is_read_up_to_the_limit(idx_dir):
  path = os.path.join(idx_dir, idx_name("test_images"))
  loaded = images.load_images([path], limit=7)
  assert loaded.names == [f"{idx_name('test_images')}[{i}]" for i in range(7)]
  np.testing.assert_array_equal(loaded.pixels, idx.read_images(path)[:7])


@pytest.mark.parametrize("make,message", [
    (lambda d: os.path.join(d, idx_name("test_labels")), "is an IDX labels file; give it with "
     "--labels"),
    (lambda d: d, "is a directory; give PNG/JPEG files or an IDX images file"),
    (lambda d: os.path.join(d, "missing.png"), "does not exist"),
])
def test_bad_inputs_fail_with_one_line_before_tensorflow(idx_dir, capsys, make, message):
  path = make(idx_dir)
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["predict", "--model-dir", _version(idx_dir + "-m", "1"), path])
  assert exit_info.value.code == 1
  err = capsys.readouterr().err
  assert len(err.splitlines()) == 1 and message in err and err.startswith("error: ")


def test_a_file_that_is_no_image_is_named(tmp_path):
  (tmp_path / "notes.txt").write_text("hello")
  with pytest.raises(images.InputError, match="notes.txt is neither a PNG/JPEG image nor an "
                     "IDX images file"):
    images.load_images([str(tmp_path / "notes.txt")])


def test_short_labels_are_refused(idx_dir):
  from pipeline.serving import predict
  labels = os.path.join(idx_dir, idx_name("test_labels"))
  with pytest.raises(images.InputError, match="holds 20 labels for 21 images"):
    predict.read_labels(labels, 21)
  assert list(predict.read_labels(labels, 20)) == list(idx.read_labels(labels))


def test_predict_checks_load_no_tensorflow():
  code = ("import sys, pipeline.serving.predict, pipeline.serving.client, trainer_module.serving, "
          "trainer_module.tflite; "
          "print(sorted(m for m in ('tensorflow', 'apache_beam', 'tfx') if m in sys.modules))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       timeout=60)
  assert out.stdout.strip() == "[]"
