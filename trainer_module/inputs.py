"""Training/eval input: gzip TFRecords of tf.Example streamed with tf.data."""

import os
from typing import List, Sequence

import tensorflow as tf

from trainer_module.features import parse_batch


def split_files(data_dir: str, split: str) -> List[str]:
  """The TFRecord files of `data_dir/Split-<split>/`, checked to hold at least one record.

  Raises:
    FileNotFoundError: no files (names the directory and how to make them).
    ValueError: the files hold no records.
  """
  pattern = os.path.join(data_dir, f"Split-{split}", "*.gz")
  return check_files([pattern], f"split {split!r} of {data_dir}")


def check_files(patterns: Sequence[str], what: str) -> List[str]:
  """Expands file patterns; raises a clear error if they match nothing or only empty files."""
  files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
  if not files:
    raise FileNotFoundError(
        f"no TFRecord files for {what} (looked for {', '.join(patterns)}); "
        "write them with `python -m pipeline prepare-data`")
  first = tf.data.TFRecordDataset(files, compression_type="GZIP").take(1)
  if not any(True for _ in first):
    raise ValueError(f"{what} is empty: {len(files)} file(s), no records")
  return files


def make_input_fn(files: Sequence[str], batch_size: int, training: bool,
                  shuffle_buffer: int = 10000):
  """An Estimator input_fn over gzip TFRecords.

  Training repeats and shuffles; evaluation reads each example once. Parsing
  happens per batch (vectorized) on parallel calls, and batches are
  prefetched so the model never waits for input.
  """
  files = list(files)

  def input_fn():
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if training:
      dataset = dataset.shuffle(len(files))
    dataset = dataset.interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type="GZIP"),
        cycle_length=min(len(files), 4), num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=not training)
    if training:
      dataset = dataset.shuffle(shuffle_buffer).repeat()
    dataset = dataset.batch(batch_size, drop_remainder=training)
    dataset = dataset.map(parse_batch, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)

  return input_fn
