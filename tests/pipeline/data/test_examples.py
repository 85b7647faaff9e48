"""IDX -> tf.Example: the hand-written wire format and the Beam transform."""

import apache_beam as beam
import numpy as np
import tensorflow as tf
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.data import idx
from pipeline.data.examples import IdxToExamples, encode_examples, plan_chunks

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


def test_plan_chunks_covers_every_example_once():
  pair = idx.IdxPair("i", "l", count=23)
  chunks = plan_chunks(pair, chunk_size=10)
  assert [(c[2], c[3]) for c in chunks] == [(0, 10), (10, 20), (20, 23)]


def _summary(serialized: bytes):
  parsed = tf.io.parse_single_example(serialized, FEATURE_SPEC)
  return len(parsed["image_raw"].numpy()), int(parsed["label"].numpy())


def test_transform_emits_every_example_with_the_feature_spec(idx_dir):
  pair = idx.validate_dir(idx_dir)[0]
  labels = idx.read_labels(pair.labels)
  with TestPipeline() as p:
    examples = p | IdxToExamples(pair, chunk_size=7)  # pylint: disable=no-value-for-parameter
    assert_that(examples | beam.combiners.Count.Globally(), equal_to([40]), label="count")
    assert_that(examples | beam.Map(_summary),
                equal_to([(784, int(l)) for l in labels]), label="spec")
