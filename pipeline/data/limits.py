"""Bounds on reading outside data: sizes it may not pass, deadlines it may not outlive.

Every byte read from a mirror, a package or an archive goes through `copy_bounded`,
so a hostile source (a gzip bomb, an endless stream, an oversize archive member)
costs at most the published file's size and the source's deadline.
"""

import time
from typing import BinaryIO, Callable, Optional

from pipeline.data.files import CHUNK


class TooLargeError(ValueError):
  """Outside data passed the size its published file has."""


def gzip_bound(size: int) -> int:
  """The most bytes gzip may take for `size` bytes of input (zlib's deflateBound, plus
  room for the gzip header's optional file name and comment)."""
  return size + (size >> 12) + (size >> 14) + (size >> 25) + 13 + 4096


def check_deadline(deadline: Optional[float], what: str) -> None:
  """Raises TimeoutError once time.monotonic() passes `deadline` (None: no deadline)."""
  if deadline is not None and time.monotonic() > deadline:
    raise TimeoutError(f"{what}: gave up at the source's deadline")


def time_left(deadline: float, what: str) -> float:
  """Seconds until `deadline` (at least a millisecond, for a timeout argument); TimeoutError
  once it has passed."""
  check_deadline(deadline, what)
  return max(deadline - time.monotonic(), 0.001)


def copy_bounded(read: Callable[[int], bytes], out: BinaryIO, limit: int, what: str,
                 deadline: Optional[float] = None,
                 on_chunk: Callable[[bytes], None] = lambda chunk: None) -> int:
  """Copies what `read(n)` yields into `out`, at most `limit` bytes; returns the count.

  Raises TooLargeError as soon as a byte past `limit` arrives (so at most one CHUNK
  more is read, and nothing past `limit` is written), TimeoutError past `deadline`.
  """
  written = 0
  while chunk := read(min(CHUNK, limit - written + 1)):
    written += len(chunk)
    if written > limit:
      raise TooLargeError(
          f"{what}: passed {limit:,} bytes, more than the published file can be; the source "
          "is broken or hostile, so it is not used")
    out.write(chunk)
    on_chunk(chunk)
    check_deadline(deadline, what)
  return written
