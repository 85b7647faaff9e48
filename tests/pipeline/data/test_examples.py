"""IDX -> tf.Example: the hand-written wire format and the Beam transform."""

import apache_beam as beam
import numpy as np
import tensorflow as tf
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.data import idx
from pipeline.data.examples import IdxToExamples, encode_examples, plan_reads, read_rows
from tests.conftest import write_dataset

FEATURE_SPEC = {
    "image_raw": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64),
}


def _reference(image: np.ndarray, label: int) -> tf.train.Example:
  return tf.train.Example(features=tf.train.Features(feature={
      "image_raw": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.tobytes()])),
      "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
  }))


def test_encoding_equals_tf_train_example():
  rng = np.random.default_rng(1)
  images = rng.integers(0, 256, size=(10, 784), dtype=np.uint8)
  labels = np.arange(10, dtype=np.uint8)
  for data, image, label in zip(encode_examples(images, labels), images, labels):
    assert tf.train.Example.FromString(data) == _reference(image, int(label))
    parsed = tf.io.parse_single_example(data, FEATURE_SPEC)
    assert parsed["image_raw"].numpy() == image.tobytes()
    assert parsed["label"].numpy() == label


def test_reads_cover_every_example_once(idx_dir, tmp_path):
  raw = idx.validate_dir(idx_dir)[0]  # 40 examples.
  assert plan_reads(raw, chunk_size=15) == [0, 1, 2]
  chunks = [(i, len(rows)) for index in plan_reads(raw, 15)
            for i, rows in read_rows(raw, index, 15)]
  assert chunks == [(0, 15), (1, 15), (2, 10)]
  write_dataset(str(tmp_path / "gz"), gz=True)
  gz = idx.validate_dir(str(tmp_path / "gz"))[0]
  assert plan_reads(gz, chunk_size=15) == [None]  # One linear stream.
  assert [(i, len(rows)) for i, rows in read_rows(gz, None, 15)] == chunks


def _summary(serialized: bytes):
  parsed = tf.io.parse_single_example(serialized, FEATURE_SPEC)
  return len(parsed["image_raw"].numpy()), int(parsed["label"].numpy())


def test_transform_emits_every_example_with_the_feature_spec(idx_dir):
  pair = idx.validate_dir(idx_dir)[0]
  labels = idx.read_labels(pair.labels)
  with TestPipeline() as p:
    examples = p | IdxToExamples(pair, chunk_size=7)
    assert_that(examples | beam.combiners.Count.Globally(), equal_to([40]), label="count")
    assert_that(examples | beam.Map(_summary),
                equal_to([(784, int(label)) for label in labels]), label="spec")
