"""A strict reader for the IDX files that MNIST and Fashion-MNIST ship in.

Pure numpy and Beam's FileSystems (no TensorFlow), so that Beam workers can read
IDX chunks without paying TensorFlow's import time, and paths may be local or
any filesystem Beam knows (gs://, ...). Every check names the file it failed on.
"""

import dataclasses
import gzip
import struct
from typing import BinaryIO, Tuple

import numpy as np
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

IMAGES_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions.
LABELS_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension.
ROWS = COLS = 28
PIXELS = ROWS * COLS
NUM_CLASSES = 10
_GZIP_MAGIC = b"\x1f\x8b"


class IdxError(ValueError):
  """An IDX file is missing, corrupt or inconsistent with its partner."""


@dataclasses.dataclass(frozen=True)
class IdxPair:
  """A validated images/labels file pair and its example count."""
  images: str
  labels: str
  count: int


def _open(path: str) -> BinaryIO:
  """Opens `path` for reading, transparently gunzipping by content, not name."""
  try:
    raw = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
  except Exception as e:  # Beam raises its own IOError subclasses per filesystem.
    raise IdxError(f"{path}: cannot open: {e}") from e
  head = raw.read(2)
  raw.seek(0)
  return gzip.GzipFile(fileobj=raw) if head == _GZIP_MAGIC else raw


def _read_exactly(stream: BinaryIO, size: int, path: str, what: str) -> bytes:
  try:
    data = stream.read(size)
  except (OSError, EOFError, gzip.BadGzipFile) as e:
    raise IdxError(f"{path}: corrupt gzip stream while reading {what}: {e}") from e
  if len(data) != size:
    raise IdxError(f"{path}: truncated: expected {size} bytes of {what}, got {len(data)}")
  return data


def _payload_length(stream: BinaryIO, path: str) -> int:
  """Counts the bytes left in `stream` (decompressing if needed)."""
  total = 0
  try:
    while chunk := stream.read(1 << 22):
      total += len(chunk)
  except (OSError, EOFError, gzip.BadGzipFile) as e:
    raise IdxError(f"{path}: corrupt gzip stream: {e}") from e
  return total


def _check_file(path: str, magic: int) -> int:
  """Validates one IDX file's header and length; returns its record count."""
  is_images = magic == IMAGES_MAGIC
  kind = "images" if is_images else "labels"
  header_size = 16 if is_images else 8
  with _open(path) as f:
    header = _read_exactly(f, header_size, path, f"{kind} header")
    found, count = struct.unpack(">II", header[:8])
    if found != magic:
      hint = " (is this a labels file?)" if found == LABELS_MAGIC else (
          " (is this an images file?)" if found == IMAGES_MAGIC else "")
      raise IdxError(f"{path}: bad magic number {found}, expected {magic} for {kind}{hint}")
    if is_images:
      rows, cols = struct.unpack(">II", header[8:])
      if (rows, cols) != (ROWS, COLS):
        raise IdxError(f"{path}: images are {rows}x{cols}, expected {ROWS}x{COLS}")
    record = PIXELS if is_images else 1
    length = _payload_length(f, path)
  if length != count * record:
    raise IdxError(
        f"{path}: header says {count} {kind} ({count * record} bytes) but the file "
        f"holds {length} bytes after the header: truncated or padded")
  return count


def read_labels(path: str, start: int = 0, stop: int = -1) -> np.ndarray:
  """Reads labels [start, stop) of a labels file as uint8, without re-validating."""
  return _read_records(path, 8, 1, start, stop).reshape(-1)


def read_images(path: str, start: int = 0, stop: int = -1) -> np.ndarray:
  """Reads images [start, stop) of an images file as uint8 [n, 784]."""
  return _read_records(path, 16, PIXELS, start, stop).reshape(-1, PIXELS)


def _read_records(path: str, header: int, record: int, start: int, stop: int) -> np.ndarray:
  with _open(path) as f:
    if stop < 0:
      (stop,) = struct.unpack(">I", _read_exactly(f, header, path, "header")[4:8])
    f.seek(header + start * record)  # A gzip stream seeks by decompressing forward.
    data = _read_exactly(f, (stop - start) * record, path, "records")
  return np.frombuffer(data, dtype=np.uint8)


def validate_pair(images: str, labels: str) -> IdxPair:
  """Checks an images/labels pair end to end.

  Checks magic numbers, 28x28 dimensions, that each file's length matches its
  header, that both files hold the same number of examples and that every
  label is in 0..9.

  Raises:
    IdxError: naming the file and the problem.
  """
  n_images = _check_file(images, IMAGES_MAGIC)
  n_labels = _check_file(labels, LABELS_MAGIC)
  if n_images != n_labels:
    raise IdxError(f"{images} holds {n_images} images but {labels} holds {n_labels} labels")
  values = read_labels(labels)
  bad = np.flatnonzero(values >= NUM_CLASSES)
  if bad.size:
    raise IdxError(
        f"{labels}: {bad.size} label(s) outside 0..{NUM_CLASSES - 1}, first label "
        f"{int(values[bad[0]])} at index {int(bad[0])}")
  return IdxPair(images=images, labels=labels, count=n_images)


def find_pair(directory: str, prefix: str) -> Tuple[str, str]:
  """Finds `<prefix>-images*` and `<prefix>-labels*` in `directory` (.gz or raw)."""
  found = []
  for kind in ("images", "labels"):
    pattern = FileSystems.join(directory, f"{prefix}-{kind}*")
    matches = sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)
    if len(matches) != 1:
      what = "no file" if not matches else f"{len(matches)} files ({', '.join(matches)})"
      raise IdxError(
          f"{directory}: expected exactly one {prefix}-{kind} IDX file matching "
          f"{prefix}-{kind}*, found {what}")
    found.append(matches[0])
  return found[0], found[1]


def write_idx(path: str, array: np.ndarray, gz: bool = False) -> None:
  """Writes a uint8 array as IDX (images if 3-D, labels if 1-D); used by tests and tools."""
  magic = IMAGES_MAGIC if array.ndim == 3 else LABELS_MAGIC
  header = struct.pack(">II", magic, array.shape[0]) + b"".join(
      struct.pack(">I", d) for d in array.shape[1:])
  data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
  with open(path, "wb") as f:
    f.write(gzip.compress(data) if gz else data)
