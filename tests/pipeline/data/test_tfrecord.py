"""Vectorized TFRecord framing, read back by TensorFlow's own reader."""

import numpy as np
import pytest
import tensorflow as tf

from pipeline.data import tfrecord


def _write(tmp_path, data: bytes) -> str:
  path = str(tmp_path / "x.tfrecord")
  with open(path, "wb") as f:
    f.write(data)
  return path


def test_framed_rows_read_back_identically(tmp_path):
  rows = np.random.default_rng(0).integers(0, 256, size=(5, 33), dtype=np.uint8)
  path = _write(tmp_path, tfrecord.frame_rows(rows))
  assert [r.numpy() for r in tf.data.TFRecordDataset(path)] == [r.tobytes() for r in rows]


def test_a_flipped_byte_fails_the_crc(tmp_path):
  rows = np.zeros((3, 16), dtype=np.uint8)
  data = bytearray(tfrecord.frame_rows(rows))
  data[12 + 16 + 4 + 12 + 3] ^= 0xFF  # A payload byte of the second record.
  path = _write(tmp_path, bytes(data))
  with pytest.raises(tf.errors.DataLossError):
    list(tf.data.TFRecordDataset(path))
