"""The strict IDX reader: what it reads, and that it reads .gz and raw alike."""

import os

import numpy as np

from pipeline.data import contract, idx
from tests.conftest import idx_name, write_dataset


def _pair(directory, split="train"):
  return idx.pair_from_pattern(os.path.join(directory, contract.idx_glob(split)))


def test_validate_pair_counts_examples(idx_dir):
  pair = _pair(idx_dir)
  assert pair.count == 40
  assert pair.images.endswith(idx_name("train_images"))
  assert pair.labels.endswith(idx_name("train_labels"))


def test_gzip_and_raw_read_the_same(tmp_path):
  raw_labels, _ = write_dataset(str(tmp_path / "raw"), gz=False)
  write_dataset(str(tmp_path / "gz"), gz=True)
  raw = _pair(str(tmp_path / "raw"))
  gz = _pair(str(tmp_path / "gz"))
  assert gz.images.endswith(".gz") and gz.labels.endswith(".gz")
  np.testing.assert_array_equal(idx.read_images(raw.images), idx.read_images(gz.images))
  np.testing.assert_array_equal(idx.read_labels(gz.labels), raw_labels)
  assert gz.count == 40


def test_chunk_reads_match_full_read(idx_dir):
  pair = _pair(idx_dir)
  images, labels = pair.images, pair.labels
  full = idx.read_images(images)
  assert full.shape == (40, 784)
  np.testing.assert_array_equal(idx.read_images(images, 13, 27), full[13:27])
  np.testing.assert_array_equal(idx.read_labels(labels, 5, 9), idx.read_labels(labels)[5:9])


def test_write_idx_round_trips_images(tmp_path):
  array = np.arange(2 * 28 * 28, dtype=np.uint32).reshape(2, 28, 28).astype(np.uint8)
  path = str(tmp_path / "x-images-idx3-ubyte")
  idx.write_idx(path, array)
  assert os.path.getsize(path) == 16 + 2 * 784
  np.testing.assert_array_equal(idx.read_images(path).reshape(2, 28, 28), array)
