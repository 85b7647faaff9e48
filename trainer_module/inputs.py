"""Training/eval input: gzip TFRecords of tf.Example streamed with tf.data."""

import os
from typing import List, Optional, Sequence

import tensorflow as tf

from pipeline.data.contract import COLS, PIXELS, ROWS
from trainer_module.features import parse_batch


def augment_batch(pixels: tf.Tensor, shift: int = 2, flip: bool = False,
                  seed: Optional[tf.Tensor] = None) -> tf.Tensor:
  """Random training distortions of a batch of images, float32 [N, 784] -> [N, 784].

  Each image moves by its own random offset of up to `shift` pixels along each
  axis (zero padding, i.e. pad and random crop), and with `flip` is mirrored
  left-right with probability 1/2. Vectorized: two gathers per batch.
  `seed` (int [2]) draws them with stateless ops, the same for the same seed
  whatever order parallel calls run in; None draws from stateful ops.
  """
  images = tf.reshape(pixels, [-1, ROWS, COLS])
  count = tf.shape(images)[0]
  flip_seed, shift_seed = (None, None) if seed is None else tf.unstack(
      tf.random.experimental.stateless_split(seed, 2))

  def uniform(shape, maxval, dtype, op_seed):
    if op_seed is None:
      return tf.random.uniform(shape, 0, maxval, dtype=dtype)
    return tf.random.stateless_uniform(shape, op_seed, 0, maxval, dtype=dtype)

  if flip:
    mirror = uniform([count, 1, 1], 1.0, tf.float32, flip_seed) < 0.5
    images = tf.where(mirror, tf.reverse(images, axis=[2]), images)
  if shift:
    padded = tf.pad(images, [[0, 0], [shift, shift], [shift, shift]])
    offsets = uniform([count, 2], 2 * shift + 1, tf.int32, shift_seed)
    rows = offsets[:, :1] + tf.range(ROWS)[tf.newaxis, :]
    cols = offsets[:, 1:] + tf.range(COLS)[tf.newaxis, :]
    images = tf.gather(padded, rows, axis=1, batch_dims=1)
    images = tf.gather(images, cols, axis=2, batch_dims=1)
  return tf.reshape(images, [-1, PIXELS])


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
                  shuffle_buffer: int = 10000, augment_shift: int = 0,
                  augment_flip: bool = False, seed: Optional[int] = None):
  """An Estimator input_fn over gzip TFRecords.

  Training repeats and shuffles; evaluation reads each example once. Parsing
  happens per batch (vectorized) on parallel calls, and batches are
  prefetched so the model never waits for input. Training batches are
  distorted by `augment_batch` when `augment_shift` or `augment_flip` asks
  for it; evaluation batches never are. A `seed` fixes the training order
  (the files are then read in a fixed interleaving) and the distortions
  (stateless, seeded by (seed, batch number)).
  """
  augment = training and (augment_shift > 0 or augment_flip)
  files = list(files)

  def distort(features, labels, batch_seed=None):
    pixels = augment_batch(features["pixels"], augment_shift, augment_flip, batch_seed)
    return {**features, "pixels": pixels}, labels

  def input_fn():
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if training:
      dataset = dataset.shuffle(len(files), seed=seed)
    dataset = dataset.interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type="GZIP"),
        cycle_length=min(len(files), 4), num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=not training or seed is not None)
    if training:
      dataset = dataset.shuffle(shuffle_buffer, seed=seed).repeat()
    dataset = dataset.batch(batch_size, drop_remainder=training)
    dataset = dataset.map(parse_batch, num_parallel_calls=tf.data.AUTOTUNE)
    if augment and seed is None:
      dataset = dataset.map(distort, num_parallel_calls=tf.data.AUTOTUNE)
    elif augment:
      numbered = tf.data.Dataset.zip((tf.data.Dataset.counter(), dataset))
      dataset = numbered.map(
          lambda i, batch: distort(*batch, tf.stack([tf.constant(seed, tf.int64), i])),
          num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)

  return input_fn
