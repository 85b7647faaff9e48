"""TFRecord framing for fixed-size records, vectorized with numpy.

A TFRecord is: uint64 length, uint32 masked CRC-32C of the length, the data,
uint32 masked CRC-32C of the data (all little-endian). Records of one length
share the first two fields, so only the data CRC is computed per record.
"""

import struct

import google_crc32c
import numpy as np

_MASK_DELTA = 0xA282EAD8


def masked_crc32c(data: bytes) -> int:
  """The CRC-32C TFRecord stores: rotated right by 15 bits plus a constant."""
  crc = google_crc32c.value(data)
  return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame_rows(rows: np.ndarray) -> bytes:
  """Frames each row of a uint8 [n, size] array as one TFRecord; returns the bytes."""
  n, size = rows.shape
  length = struct.pack("<Q", size)
  header = np.frombuffer(length + struct.pack("<I", masked_crc32c(length)), np.uint8)
  out = np.empty((n, len(header) + size + 4), dtype=np.uint8)
  out[:, :len(header)] = header
  out[:, len(header):-4] = rows
  crcs = np.fromiter((masked_crc32c(row.tobytes()) for row in rows), dtype="<u4", count=n)
  out[:, -4:] = crcs.view(np.uint8).reshape(n, 4)
  return out.tobytes()
