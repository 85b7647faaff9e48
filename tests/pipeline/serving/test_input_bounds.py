"""What a hostile INPUT may cost `predict`: pictures checked from their header before
decoding, PNG and JPEG only, and IDX files decompressed only as far as --limit asks."""

import gzip
import json
import struct
import subprocess
import sys
from typing import Optional

import numpy as np
import pytest
from PIL import Image

from pipeline import cli
from pipeline.data import idx
from pipeline.serving import images, predict
from tests.support.hostile_inputs import write_idx_bomb, write_png


def _model_dir(tmp_path) -> str:
  """A version directory `predict` accepts before TensorFlow loads."""
  version = tmp_path / "model" / "1"
  version.mkdir(parents=True)
  (version / "saved_model.pb").write_bytes(b"")
  return str(version)


def test_a_png_bomb_is_one_line_naming_the_file(tmp_path, capsys):
  path = str(tmp_path / "bomb.png")
  write_png(path, 20000, 20000, rows=2)  # 400 Mpx by its header, 100 bytes on disk.
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["predict", "--model-dir", _model_dir(tmp_path), path])
  assert exit_info.value.code == 1
  err = capsys.readouterr().err
  assert err.splitlines() == [f"error: {path}: the image is over predict's limit of 4096x4096 "
                              "pixels (a decompression bomb, or a photo to shrink first); "
                              "give 28x28 pictures"]


def test_a_picture_over_the_cap_is_refused_from_its_header(tmp_path):
  # 25 Mpx: under Pillow's own default limit, so only predict's cap stops it.
  path = str(tmp_path / "big.png")
  write_png(path, 5000, 5000, rgba=True, rows=1)
  with pytest.raises(images.InputError, match=r"big.png: a 5000x5000 image is over predict's "
                     r"limit of 4096x4096 pixels"):
    images.load_images([path])


_PEAK = r"""
import json, resource, sys
from pipeline.serving import images
import PIL.Image
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
  limit = int(sys.argv[2]) if sys.argv[2] else None
  outcome = len(images.load_images([sys.argv[1]], limit).names)
except images.InputError as e:
  outcome = str(e)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_mb": (after - before) / 1024, "outcome": outcome}))
"""


def _peak(path: str, limit: Optional[int] = None) -> dict:
  """Reads `path` in a fresh process: its peak RSS (MB) above its imports, and the outcome."""
  child = subprocess.run([sys.executable, "-c", _PEAK, path, str(limit or "")],
                         capture_output=True, text=True, timeout=60, check=True)
  return json.loads(child.stdout)


def test_a_big_rgba_png_is_refused_without_decoding_a_pixel(tmp_path):
  path = str(tmp_path / "rgba.png")
  write_png(path, 5000, 5000, rgba=True)  # A valid 98 kB file: 100 MB as RGBA once decoded.
  measured = _peak(path)
  assert "a 5000x5000 image is over predict's limit" in measured["outcome"]
  assert measured["peak_mb"] < 20, measured  # +105 MB at 516c047, which decoded it.


def test_a_large_rgba_png_under_the_cap_is_read_and_noted(tmp_path):
  path = str(tmp_path / "photo.png")
  write_png(path, 2048, 1024, rgba=True)
  loaded = images.load_images([path])
  assert loaded.pixels.shape == (1, 784) and not loaded.pixels.any()
  assert loaded.notes == [f"note: {path}: converted RGBA to grayscale, resized 2048x1024 to "
                          "28x28"]


@pytest.mark.parametrize("pillow_format", ["GIF", "BMP", "TIFF"])
def test_only_png_and_jpeg_are_read_whatever_the_name(tmp_path, pillow_format):
  path = str(tmp_path / "digit.png")  # The name says PNG; the bytes decide.
  Image.fromarray(np.zeros((28, 28), np.uint8)).save(path, format=pillow_format)
  with pytest.raises(images.InputError, match="digit.png is neither a PNG/JPEG image nor an "
                     "IDX images file"):
    images.load_images([path])


def test_a_jpeg_decoded_at_a_reduced_scale_matches_a_full_decode(tmp_path):
  path = str(tmp_path / "photo.jpg")
  ramp = np.add.outer(np.arange(448), np.arange(448)) * 255 // 894
  Image.fromarray(np.stack([ramp] * 3, axis=-1).astype(np.uint8)).save(path, quality=95)
  loaded = images.load_images([path])
  with Image.open(path) as full:  # Every pixel decoded, in colour, then shrunk.
    expected = np.asarray(full.convert("L").resize((28, 28), Image.BILINEAR), np.int16)
  assert np.abs(loaded.pixels[0].reshape(28, 28) - expected).max() <= 3
  assert loaded.notes == [f"note: {path}: converted RGB to grayscale, resized 448x448 to 28x28"]


def test_limit_bounds_what_is_decompressed(tmp_path):
  # The header promises a million images and the stream ends after five: only a reader that
  # stops at --limit succeeds (validating the whole file first said "truncated").
  path = str(tmp_path / "bomb-images-idx3-ubyte.gz")
  write_idx_bomb(path, 1_000_000, images=5)
  loaded = images.load_images([path], limit=3)
  assert loaded.names == [f"bomb-images-idx3-ubyte.gz[{i}]" for i in range(3)]
  with pytest.raises(images.InputError, match=r"holds 1000000 images, more than predict "
                     r"classifies in one run \(100000\); give --limit N for the first N$"):
    images.load_images([path])


def test_an_idx_bomb_costs_no_memory_with_or_without_a_limit(tmp_path):
  path = str(tmp_path / "bomb-images-idx3-ubyte.gz")
  write_idx_bomb(path, 200_000)  # A valid 153 kB file of 157 MB.
  unbounded = _peak(path)
  assert "holds 200000 images, more than predict classifies" in unbounded["outcome"]
  assert unbounded["peak_mb"] < 20, unbounded  # +312 MB at 516c047, which read them all.
  assert _peak(path, limit=2) == {"peak_mb": pytest.approx(0, abs=20), "outcome": 2}


@pytest.mark.parametrize("images_written,message", [
    (4, "header says 5 images but the file ends after 3136 bytes of them: truncated"),
    (6, "header says 5 images but the file holds more after them: padded"),
])
def test_a_whole_idx_file_read_is_still_checked_to_its_end(tmp_path, images_written, message):
  path = str(tmp_path / "t-images-idx3-ubyte.gz")
  write_idx_bomb(path, 5, images=images_written)
  with pytest.raises(idx.IdxError, match=message):
    images.load_images([path])
  assert len(images.load_images([path], limit=4).names) == 4


def test_a_limit_past_the_run_cap_is_refused(tmp_path):
  with pytest.raises(images.InputError, match="^--limit 100001: predict classifies at most "
                     "100000 images in one run"):
    images.load_images([str(tmp_path / "any")], limit=100_001)


def test_labels_are_read_only_as_far_as_the_images_go(tmp_path):
  path = str(tmp_path / "bomb-labels-idx1-ubyte.gz")
  with gzip.open(path, "wb") as f:  # A million labels promised, 20 written.
    f.write(struct.pack(">II", idx.LABELS_MAGIC, 1_000_000) + bytes(range(10)) * 2)
  assert list(predict.read_labels(path, 20)) == list(range(10)) * 2
  with pytest.raises(idx.IdxError, match="truncated"):
    predict.read_labels(path, 21)
