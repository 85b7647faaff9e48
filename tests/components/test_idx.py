"""The strict IDX reader: what it reads, and that it reads .gz and raw alike."""

import os

import numpy as np
import pytest

from components import idx
from tests.conftest import IDX_NAMES, write_dataset


def test_validate_pair_counts_examples(idx_dir):
  pair = idx.validate_pair(*idx.find_pair(idx_dir, "train"))
  assert pair.count == 40
  assert pair.images.endswith(IDX_NAMES["train_images"])
  assert pair.labels.endswith(IDX_NAMES["train_labels"])


def test_gzip_and_raw_read_the_same(tmp_path):
  raw_labels, _ = write_dataset(str(tmp_path / "raw"), gz=False)
  write_dataset(str(tmp_path / "gz"), gz=True)
  raw = idx.find_pair(str(tmp_path / "raw"), "train")
  gz = idx.find_pair(str(tmp_path / "gz"), "train")
  assert gz[0].endswith(".gz")
  np.testing.assert_array_equal(idx.read_images(raw[0]), idx.read_images(gz[0]))
  np.testing.assert_array_equal(idx.read_labels(gz[1]), raw_labels)
  assert idx.validate_pair(*gz).count == 40


def test_chunk_reads_match_full_read(idx_dir):
  images, labels = idx.find_pair(idx_dir, "train")
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
