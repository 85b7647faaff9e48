"""A strict reader for the IDX files that MNIST and Fashion-MNIST ship in.

Pure numpy (no TensorFlow, and Beam only for remote paths), so that checks run
in a fraction of a second before anything heavy is imported, and Beam workers
read chunks without TensorFlow's import time. Every check names the file it
failed on.
"""

import dataclasses
import gzip
import os
import struct
from typing import BinaryIO, Iterator, List, Tuple

import numpy as np

from pipeline.data import contract, files

IMAGES_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions.
LABELS_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension.
_HEADER_SIZE = {IMAGES_MAGIC: 16, LABELS_MAGIC: 8}


class IdxError(ValueError):
  """An IDX file is missing, corrupt or inconsistent with its partner."""


@dataclasses.dataclass(frozen=True)
class IdxPair:
  """A validated images/labels file pair and its example count.

  `compressed` pairs (either file gzip) are read front to back in one stream:
  a gzip stream can only seek by decompressing everything before the target.
  """
  images: str
  labels: str
  count: int
  compressed: bool = False


def _open(path: str) -> BinaryIO:
  if not files.is_remote(path) and os.path.isdir(path):
    raise IdxError(f"{path} is a directory where an IDX file should be; move it away")
  try:
    return files.open_maybe_gzip(path)
  except Exception as e:  # Beam raises its own IOError subclasses per filesystem.
    raise IdxError(f"{path}: cannot open: {e}") from e


def _read_exactly(stream: BinaryIO, size: int, path: str, what: str) -> bytes:
  try:
    data = stream.read(size)
  except (OSError, EOFError, gzip.BadGzipFile) as e:
    raise IdxError(f"{path}: corrupt gzip stream while reading {what}: {e}") from e
  if len(data) != size:
    raise IdxError(f"{path}: truncated: expected {size} bytes of {what}, got {len(data)}")
  return data


def _payload_length(stream: BinaryIO, path: str, expected: int) -> int:
  """Counts the bytes left in `stream`, but stops one byte past `expected`.

  A body longer than its header says is known to be wrong at that byte, so a
  gzip bomb behind a small header is never decompressed in full.
  """
  total = 0
  try:
    while total <= expected and (chunk := stream.read(min(files.CHUNK, expected + 1 - total))):
      total += len(chunk)
  except (OSError, EOFError, gzip.BadGzipFile) as e:
    raise IdxError(f"{path}: corrupt gzip stream: {e}") from e
  return total


def _check_header(stream: BinaryIO, path: str, magic: int) -> int:
  """Reads and checks the header at the start of `stream`; returns its record count."""
  kind = "images" if magic == IMAGES_MAGIC else "labels"
  header = _read_exactly(stream, _HEADER_SIZE[magic], path, f"{kind} header")
  found, count = struct.unpack(">II", header[:8])
  if found != magic:
    hint = " (is this a labels file?)" if found == LABELS_MAGIC else (
        " (is this an images file?)" if found == IMAGES_MAGIC else "")
    raise IdxError(f"{path}: bad magic number {found}, expected {magic} for {kind}{hint}")
  if magic == IMAGES_MAGIC:
    rows, cols = struct.unpack(">II", header[8:])
    if (rows, cols) != (contract.ROWS, contract.COLS):
      raise IdxError(f"{path}: images are {rows}x{cols}, expected "
                     f"{contract.ROWS}x{contract.COLS}")
  return count


def _record_size(magic: int) -> int:
  return contract.PIXELS if magic == IMAGES_MAGIC else 1


def _check_file(path: str, magic: int) -> int:
  """Validates one IDX file's header and length; returns its record count."""
  kind = "images" if magic == IMAGES_MAGIC else "labels"
  record = _record_size(magic)
  with _open(path) as f:
    count = _check_header(f, path, magic)
    length = _payload_length(f, path, count * record)
  if length > count * record:
    raise IdxError(f"{path}: header says {count} {kind} ({count * record} bytes) but the "
                   "file holds more after them: padded, or not what the header describes")
  if length < count * record:
    raise IdxError(
        f"{path}: header says {count} {kind} ({count * record} bytes) but the file "
        f"holds {length} bytes after the header: truncated")
  return count


def record_count(path: str, magic: int) -> int:
  """The record count of a file's checked header; nothing past the header is read."""
  with _open(path) as f:
    return _check_header(f, path, magic)


def read_first(path: str, magic: int, n: int) -> np.ndarray:
  """The first `n` records of an images or labels file, flat uint8, read in batches.

  Only the header and those records are decompressed, each batch at most
  `files.CHUNK` bytes: a small gzip file whose header promises billions of
  records costs what `n` asks for, not what the header says. When `n` is every
  record, the file is also checked to end there (one byte more is read).

  Raises:
    IdxError: a bad header, fewer than `n` records, or bytes past the last record.
  """
  kind = "images" if magic == IMAGES_MAGIC else "labels"
  with _open(path) as f:
    count = _check_header(f, path, magic)
    if n > count:
      raise IdxError(f"{path}: holds {count} {kind}, not the {n} asked for")
    out = np.empty(n * _record_size(magic), np.uint8)
    done = 0
    try:
      while done < out.size and (piece := f.read(min(files.CHUNK, out.size - done))):
        out[done:done + len(piece)] = np.frombuffer(piece, np.uint8)
        done += len(piece)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
      raise IdxError(f"{path}: corrupt gzip stream: {e}") from e
    if done < out.size:
      raise IdxError(f"{path}: header says {count} {kind} but the file ends after {done} "
                     f"bytes of them: truncated")
    if n == count and _payload_length(f, path, 0):
      raise IdxError(f"{path}: header says {count} {kind} but the file holds more after "
                     "them: padded, or not what the header describes")
  return out


def read_labels(path: str, start: int = 0, stop: int = -1) -> np.ndarray:
  """Reads labels [start, stop) of a labels file as uint8, without re-validating."""
  return _read_records(path, LABELS_MAGIC, 1, start, stop).reshape(-1)


def read_images(path: str, start: int = 0, stop: int = -1) -> np.ndarray:
  """Reads images [start, stop) of an images file as uint8 [n, 784]."""
  return _read_records(path, IMAGES_MAGIC, contract.PIXELS, start, stop).reshape(
      -1, contract.PIXELS)


def _read_records(path: str, magic: int, record: int, start: int, stop: int) -> np.ndarray:
  header = _HEADER_SIZE[magic]
  with _open(path) as f:
    if stop < 0:
      (stop,) = struct.unpack(">I", _read_exactly(f, header, path, "header")[4:8])
    f.seek(header + start * record)  # A gzip stream seeks by decompressing forward.
    data = _read_exactly(f, (stop - start) * record, path, "records")
  return np.frombuffer(data, dtype=np.uint8)


def stream_records(pair: IdxPair, chunk_size: int) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
  """Yields (images [n, 784], labels [n]) chunks of a validated pair, front to back.

  Each file is opened once and read sequentially: linear in the file size,
  with one chunk in memory.
  """
  with _open(pair.images) as images, _open(pair.labels) as labels:
    _read_exactly(images, _HEADER_SIZE[IMAGES_MAGIC], pair.images, "header")
    _read_exactly(labels, _HEADER_SIZE[LABELS_MAGIC], pair.labels, "header")
    for start in range(0, pair.count, chunk_size):
      n = min(chunk_size, pair.count - start)
      yield (np.frombuffer(_read_exactly(images, n * contract.PIXELS, pair.images, "records"),
                           np.uint8).reshape(n, contract.PIXELS),
             np.frombuffer(_read_exactly(labels, n, pair.labels, "records"), np.uint8))


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
  if not n_images:
    raise IdxError(f"{images} and {labels} hold no examples: a split must not be empty")
  values = read_labels(labels)
  bad = np.flatnonzero(values >= contract.NUM_CLASSES)
  if bad.size:
    raise IdxError(
        f"{labels}: {bad.size} label(s) outside 0..{contract.NUM_CLASSES - 1}, first label "
        f"{int(values[bad[0]])} at index {int(bad[0])}")
  compressed = files.is_gzip(images) or files.is_gzip(labels)
  return IdxPair(images=images, labels=labels, count=n_images, compressed=compressed)


def pair_from_pattern(pattern: str) -> IdxPair:
  """Validates the images/labels pair that `pattern` matches (e.g. `dir/t10k-*-ubyte*`).

  Each match is told apart by its published name (`...-images-...`,
  `...-labels-...`); there must be exactly one of each.
  """
  matches = files.match(pattern)
  pair = []
  for kind in contract.IDX_KINDS:
    found = [m for m in matches if f"-{kind}-" in m.rsplit("/", 1)[-1]]
    if len(found) != 1:
      what = f"{len(found)} files ({', '.join(found)})" if found else "no file"
      raise IdxError(f"expected exactly one {kind} IDX file matching {pattern}, found {what}")
    pair.append(found[0])
  return validate_pair(*pair)


def validate_dir(directory: str) -> List[IdxPair]:
  """Validates every file set's pair in `directory`, in `contract.IDX_SETS` order."""
  return [pair_from_pattern(files.join(directory, contract.idx_glob(idx_set)))
          for idx_set in contract.IDX_SETS]


def write_idx(path: str, array: np.ndarray, gz: bool = False) -> None:
  """Writes a uint8 array as IDX (images if 3-D, labels if 1-D); used by tests and tools."""
  magic = IMAGES_MAGIC if array.ndim == 3 else LABELS_MAGIC
  header = struct.pack(">II", magic, array.shape[0]) + b"".join(
      struct.pack(">I", d) for d in array.shape[1:])
  data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
  with open(path, "wb") as f:
    f.write(gzip.compress(data) if gz else data)


def validate_images(path: str) -> int:
  """Checks one images file on its own (magic, 28x28, length); returns its image count."""
  return _check_file(path, IMAGES_MAGIC)


def validate_labels(path: str) -> int:
  """Checks one labels file on its own (magic, length); returns its label count."""
  return _check_file(path, LABELS_MAGIC)
