"""IDX -> serialized tf.Example, as a Beam PTransform.

The examples are encoded straight into protobuf wire format with numpy. Every
MNIST example has the same layout (784 image bytes, one label < 128), so the
bytes around the payload are constant. This keeps TensorFlow out of the Beam
workers (importing it costs seconds per worker process), and encoding 60,000
examples took 0.19 s here; bench/bench_prepare_data.py compares the whole path
with building `tf.train.Example` objects one by one.
"""

import zlib
from typing import Dict, Iterator, List, Optional, Tuple

import apache_beam as beam
import numpy as np

from pipeline.data import contract, idx

DEFAULT_CHUNK_SIZE = 5000  # Examples per Beam element and per TFRecord shard.

def _varint(value: int) -> bytes:
  out = bytearray()
  while True:
    byte, value = value & 0x7F, value >> 7
    out.append(byte | (0x80 if value else 0))
    if not value:
      return bytes(out)


def _len_field(field: int, payload: bytes) -> bytes:
  """A length-delimited (wire type 2) protobuf field."""
  return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _feature_entry(key: str, feature: bytes) -> bytes:
  """One `Features.feature` map entry: {1: key, 2: Feature}."""
  return _len_field(1, _len_field(1, key.encode()) + _len_field(2, feature))


def _example_template() -> Tuple[bytes, bytes]:
  """Returns (prefix, middle) so that example = prefix + image + middle + label byte."""
  image_marker, label_marker = b"\xaa" * contract.PIXELS, b"\x07"
  image_feature = _len_field(1, _len_field(1, image_marker))  # Feature.bytes_list
  label_feature = _len_field(3, _len_field(1, label_marker))  # Feature.int64_list, packed
  features = (_feature_entry(contract.IMAGE_KEY, image_feature) +
              _feature_entry(contract.LABEL_KEY, label_feature))
  example = _len_field(1, features)  # Example.features
  start = example.index(image_marker)
  end = start + contract.PIXELS
  return example[:start], example[end:-1]


_PREFIX, _MIDDLE = _example_template()
EXAMPLE_SIZE = len(_PREFIX) + contract.PIXELS + len(_MIDDLE) + 1


def encode_example_rows(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """Serialized tf.Examples as rows of a uint8 [n, EXAMPLE_SIZE] array."""
  out = np.empty((len(labels), EXAMPLE_SIZE), dtype=np.uint8)
  p = len(_PREFIX)
  out[:, :p] = np.frombuffer(_PREFIX, np.uint8)
  out[:, p:p + contract.PIXELS] = images
  out[:, p + contract.PIXELS:-1] = np.frombuffer(_MIDDLE, np.uint8)
  out[:, -1] = labels
  return out


_IMAGE_AT = slice(len(_PREFIX), len(_PREFIX) + contract.PIXELS)


def in_validation(image: bytes) -> bool:
  """Whether a published training image belongs to the validation split.

  Decided by a hash of the pixels alone, so the split is the same on every
  machine and runner, whatever the order or sharding of the reads.
  """
  return zlib.crc32(image) % contract.VALIDATION_BUCKETS == 0


def split_mask(rows: np.ndarray, split: str) -> np.ndarray:
  """Which serialized-example rows, read from `split`'s file set, belong to `split`."""
  if contract.SPLIT_SOURCE[split] != "train":
    return np.ones(len(rows), bool)
  validation = _validation_mask(rows)
  return validation if split == "validation" else ~validation


def _validation_mask(rows: np.ndarray) -> np.ndarray:
  return np.fromiter((in_validation(row[_IMAGE_AT]) for row in rows), bool, len(rows))


def rows_by_split(rows: np.ndarray, idx_set: str) -> Dict[str, np.ndarray]:
  """A chunk of `idx_set`'s serialized-example rows, by output split (each image hashed once)."""
  if idx_set != "train":
    return {split: rows for split, source in contract.SPLIT_SOURCE.items() if source == idx_set}
  validation = _validation_mask(rows)
  return {"train": rows[~validation], "validation": rows[validation]}


class EmptySplitError(ValueError):
  """Carving left a split without a single example."""


def check_split_counts(counts: Dict[str, int], published: Dict[str, int]) -> None:
  """Raises EmptySplitError, saying why, if a split of `counts` has no example.

  Args:
    counts: Split name -> examples written.
    published: IDX file set -> examples it holds.
  """
  for split, n in counts.items():
    if n:
      continue
    source = contract.SPLIT_SOURCE[split]
    bucket = f"the validation bucket (crc32 of the pixels % {contract.VALIDATION_BUCKETS} == 0)"
    why = {"validation": f"none of the {published[source]} published {source} images hashed "
                         f"into {bucket}",
           "train": f"every one of the {published[source]} published {source} images hashed "
                    f"into {bucket}"}.get(split, f"the {source} IDX files hold no examples")
    raise EmptySplitError(
        f"the {split} split came out empty: {why}. Identical images (all blank, say) share "
        f"one bucket: check the {source} images")


def example_in_split(example: bytes, split: str) -> bool:
  """`split_mask` for one serialized example, as encoded here."""
  return bool(split_mask(np.frombuffer(example, np.uint8)[None, :], split)[0])


def encode_examples(images: np.ndarray, labels: np.ndarray) -> List[bytes]:
  """Serializes uint8 images [n, 784] and labels [n] (each < 10) as tf.Examples."""
  return [row.tobytes() for row in encode_example_rows(images, labels)]


def chunk_count(pair: idx.IdxPair, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
  """How many chunks (and TFRecord shards) a pair makes."""
  return -(-pair.count // chunk_size)


def plan_reads(pair: idx.IdxPair, chunk_size: int = DEFAULT_CHUNK_SIZE) -> List[Optional[int]]:
  """What workers read independently: each chunk index of a raw pair, or None for a gzip one.

  A raw chunk is one seek away. A gzip stream seeks by decompressing everything
  before the target, so reading its chunks separately would be quadratic in the
  file size: a gzip pair is read front to back in one stream (None).
  """
  return [None] if pair.compressed else list(range(chunk_count(pair, chunk_size)))


def read_rows(pair: idx.IdxPair, index: Optional[int],
              chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[Tuple[int, np.ndarray]]:
  """(chunk index, serialized-example rows) of chunk `index`, or of every chunk for None."""
  if index is None:
    for i, (images, labels) in enumerate(idx.stream_records(pair, chunk_size)):
      yield i, encode_example_rows(images, labels)
    return
  start = index * chunk_size
  stop = min(start + chunk_size, pair.count)
  yield index, encode_example_rows(idx.read_images(pair.images, start, stop),
                                   idx.read_labels(pair.labels, start, stop))


def _read_examples(read: Tuple[idx.IdxPair, Optional[int]], chunk_size: int) -> Iterator[bytes]:
  for _, rows in read_rows(*read, chunk_size):
    yield from (row.tobytes() for row in rows)


@beam.ptransform_fn
def IdxToExamples(
    pipeline: beam.Pipeline, pair: idx.IdxPair,
    chunk_size: int = DEFAULT_CHUNK_SIZE) -> beam.PCollection:
  """Reads a pair checked by `idx.validate_pair` into serialized tf.Examples.

  Validation happens before the pipeline is built, so a corrupt input fails
  before any worker starts or any output is written. Raw files are read in
  parallel chunks; gzip files in one linear stream.
  """
  return (pipeline
          | "PlanReads" >> beam.Create([(pair, i) for i in plan_reads(pair, chunk_size)])
          # Create emits one bundle; reshuffling spreads the chunks over the workers.
          | "SpreadReads" >> beam.Reshuffle()
          | "Read" >> beam.FlatMap(_read_examples, chunk_size))
