"""Small files that decode to a lot, for the tests and bench of `predict`'s input bounds.

Written in pieces, so that making a file that decodes to gigabytes costs little memory.
"""

import gzip
import struct
import zlib
from typing import Optional

from pipeline.data import contract, idx


def _chunk(kind: bytes, data: bytes) -> bytes:
  return (struct.pack(">I", len(data)) + kind + data
          + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def write_png(path: str, width: int, height: int, rgba: bool = False,
              rows: Optional[int] = None) -> None:
  """A PNG of zeros whose header says `width` x `height`, grayscale or RGBA.

  `rows`: how many rows its pixel data really holds (default: all, a valid PNG); a few
  make a file of some bytes whose header alone says it is huge.
  """
  row = b"\x00" * (1 + width * (4 if rgba else 1))  # Filter byte 0, then the pixels.
  squeeze = zlib.compressobj(9)
  body = b"".join(squeeze.compress(row) for _ in range(height if rows is None else rows))
  with open(path, "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n")
    f.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6 if rgba else 0,
                                        0, 0, 0)))
    f.write(_chunk(b"IDAT", body + squeeze.flush()))
    f.write(_chunk(b"IEND", b""))


def write_idx_bomb(path: str, count: int, images: Optional[int] = None) -> None:
  """A gzipped IDX images file whose header says `count` images.

  `images`: how many (zero) images follow the header (default: `count`, a valid file),
  written 1 MB at a time.
  """
  left = (count if images is None else images) * contract.PIXELS
  with gzip.open(path, "wb", compresslevel=9) as f:
    f.write(struct.pack(">IIII", idx.IMAGES_MAGIC, count, contract.ROWS, contract.COLS))
    while left:
      step = min(left, 1 << 20)
      f.write(b"\x00" * step)
      left -= step
