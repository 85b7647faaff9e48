"""The images `predict` is given: PNG/JPEG files or an IDX images file, as 784 uint8 pixels.

A picture that is not 28x28 grayscale is converted and resized, with a note saying so,
since that is what a user with a photo wants; an IDX file is read in batches and only as
far as --limit asks (pipeline.data.idx). What any input may cost is bounded: MAX_PIXELS per
picture, checked before decoding, and MAX_IMAGES per run.
"""

import dataclasses
import os
from typing import List, Optional, Sequence

import numpy as np

from pipeline.data import contract, files, idx

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_FORMATS = ("PNG", "JPEG")
# A picture's size is checked before decoding: 16.8 Mpx (67 MB as RGBA; Pillow's default
# allows 89 Mpx) is far beyond a 28x28 digit, yet a 12 Mpx phone photo still fits.
MAX_PIXELS = 4096 * 4096
# The most images one run holds: 78 MB of pixels; Fashion-MNIST's 60000 training images fit.
MAX_IMAGES = 100_000


class InputError(ValueError):
  """An INPUT cannot be read as images; the message names it and what to give."""


@dataclasses.dataclass(frozen=True)
class Images:
  """Images to classify: a name per image, pixels uint8 [N, 784], notes on conversions."""
  names: List[str]
  pixels: np.ndarray
  notes: List[str]


def _kind(path: str) -> str:
  """'png', 'jpeg' or 'idx' from the file's first bytes (gzip is looked through for IDX)."""
  with files.open_binary(path) as f:
    head = f.read(8)
  if head.startswith(_PNG_MAGIC):
    return "png"
  if head.startswith(_JPEG_MAGIC):
    return "jpeg"
  try:
    with files.open_maybe_gzip(path) as f:
      magic = f.read(4)
  except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError.
    raise InputError(f"{path}: corrupt gzip stream ({e}); give PNG/JPEG files or an IDX "
                     "images file") from None
  if int.from_bytes(magic, "big") == idx.IMAGES_MAGIC:
    return "idx"
  if int.from_bytes(magic, "big") == idx.LABELS_MAGIC:
    raise InputError(f"{path} is an IDX labels file; give it with --labels, and the images "
                     "file as INPUT")
  raise InputError(f"{path} is neither a PNG/JPEG image nor an IDX images file; give "
                   "28x28 grayscale pictures or e.g. t10k-images-idx3-ubyte")


def _too_big(path: str, what: str) -> InputError:
  side = int(MAX_PIXELS ** 0.5)
  return InputError(f"{path}: {what} is over predict's limit of {side}x{side} pixels (a "
                    "decompression bomb, or a photo to shrink first); give 28x28 pictures")


def _picture(path: str, notes: List[str]) -> np.ndarray:
  """A PNG/JPEG as 784 uint8 pixels, converted to grayscale and resized to 28x28 if need be.

  The size is checked from the header before any pixel is decoded; a JPEG is
  decoded straight to grayscale at the smallest DCT scale (1/2 to 1/8) still
  at least 28x28, so its full-size colour pixels never exist in memory.
  """
  from PIL import Image, UnidentifiedImageError
  try:
    # formats=: Pillow itself accepts only these two, whatever else it could read.
    with Image.open(path, formats=_FORMATS) as image:
      width, height = image.size
      if width * height > MAX_PIXELS:
        raise _too_big(path, f"a {width}x{height} image")
      mode = image.mode
      if image.format == "JPEG":
        image.draft("L", (contract.COLS, contract.ROWS))
      gray = image.convert("L")  # Loads; a copy even when already L, valid after close.
  except Image.DecompressionBombError:  # Pillow's own, larger limit: refused at open.
    raise _too_big(path, "the image") from None
  except (UnidentifiedImageError, OSError) as e:
    raise InputError(f"{path}: cannot decode the image ({e}); give a valid PNG or JPEG") from e
  changes = [] if mode == "L" else [f"converted {mode} to grayscale"]
  if (width, height) != (contract.COLS, contract.ROWS):  # A JPEG's draft may be 28x28 already.
    changes.append(f"resized {width}x{height} to {contract.COLS}x{contract.ROWS}")
  if gray.size != (contract.COLS, contract.ROWS):
    gray = gray.resize((contract.COLS, contract.ROWS), Image.BILINEAR)
  if changes:
    notes.append(f"note: {path}: {', '.join(changes)}")
  return np.asarray(gray, dtype=np.uint8).reshape(contract.PIXELS)


def _idx_images(path: str, left: Optional[int], room: int) -> np.ndarray:
  """The first `left` images of an IDX file (all without a limit, if they fit in `room`)."""
  count = idx.record_count(path, idx.IMAGES_MAGIC)
  if left is None and count > room:
    raise InputError(f"{path} holds {count} images, more than predict classifies in one run "
                     f"({MAX_IMAGES}); give --limit N for the first N")
  stop = count if left is None else min(count, left)
  return idx.read_first(path, idx.IMAGES_MAGIC, stop).reshape(stop, contract.PIXELS)


def load_images(inputs: Sequence[str], limit: Optional[int] = None) -> Images:
  """Reads every INPUT in order, stopping after `limit` images; IDX images are named `file[i]`.

  At most MAX_IMAGES in all, so that no input (an IDX header promising billions
  of images) can make the pixels outgrow memory.

  Raises:
    InputError: an input is missing, undecodable, too big or of another kind.
    idx.IdxError: an IDX images file is corrupt.
  """
  if limit is not None and limit > MAX_IMAGES:
    raise InputError(f"--limit {limit}: predict classifies at most {MAX_IMAGES} images in one "
                     "run; split the input")
  names: List[str] = []
  rows: List[np.ndarray] = []
  notes: List[str] = []
  for path in inputs:
    left = None if limit is None else limit - len(names)
    if left is not None and left <= 0:
      break
    if not os.path.isfile(path):
      what = "is a directory" if os.path.isdir(path) else "does not exist"
      raise InputError(f"INPUT {path} {what}; give PNG/JPEG files or an IDX images file")
    if _kind(path) == "idx":
      rows.append(_idx_images(path, left, MAX_IMAGES - len(names)))
      names.extend(f"{os.path.basename(path)}[{i}]" for i in range(len(rows[-1])))
    elif len(names) >= MAX_IMAGES:
      raise InputError(f"more than {MAX_IMAGES} images given; give --limit N, or split them")
    else:
      rows.append(_picture(path, notes)[np.newaxis])
      names.append(path)
  pixels = np.concatenate(rows) if rows else np.zeros((0, contract.PIXELS), np.uint8)
  return Images(names=names, pixels=pixels, notes=notes)
