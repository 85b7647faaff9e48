"""The images `predict` is given: PNG/JPEG files or an IDX images file, as 784 uint8 pixels.

A picture that is not 28x28 grayscale is converted and resized, with a note saying so,
since that is what a user with a photo wants; an IDX file is read strictly (pipeline.data.idx).
"""

import dataclasses
import os
from typing import List, Optional, Sequence

import numpy as np

from pipeline.data import contract, files, idx

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"


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
  with files.open_maybe_gzip(path) as f:
    magic = f.read(4)
  if int.from_bytes(magic, "big") == idx.IMAGES_MAGIC:
    return "idx"
  if int.from_bytes(magic, "big") == idx.LABELS_MAGIC:
    raise InputError(f"{path} is an IDX labels file; give it with --labels, and the images "
                     "file as INPUT")
  raise InputError(f"{path} is neither a PNG/JPEG image nor an IDX images file; give "
                   "28x28 grayscale pictures or e.g. t10k-images-idx3-ubyte")


def _picture(path: str, notes: List[str]) -> np.ndarray:
  """A PNG/JPEG as 784 uint8 pixels, converted to grayscale and resized to 28x28 if need be."""
  from PIL import Image, UnidentifiedImageError  # pylint: disable=import-outside-toplevel
  try:
    with Image.open(path) as image:
      image.load()
  except (UnidentifiedImageError, OSError) as e:
    raise InputError(f"{path}: cannot decode the image ({e}); give a valid PNG or JPEG") from e
  changes = []
  if image.mode != "L":
    changes.append(f"converted {image.mode} to grayscale")
    image = image.convert("L")
  if image.size != (contract.COLS, contract.ROWS):
    changes.append(f"resized {image.size[0]}x{image.size[1]} to "
                   f"{contract.COLS}x{contract.ROWS}")
    image = image.resize((contract.COLS, contract.ROWS), Image.BILINEAR)
  if changes:
    notes.append(f"note: {path}: {', '.join(changes)}")
  return np.asarray(image, dtype=np.uint8).reshape(contract.PIXELS)


def load_images(inputs: Sequence[str], limit: Optional[int] = None) -> Images:
  """Reads every INPUT in order, stopping after `limit` images; IDX images are named `file[i]`.

  Raises:
    InputError: an input is missing, undecodable or of another kind.
    idx.IdxError: an IDX images file is corrupt.
  """
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
      count = idx.validate_images(path)
      stop = count if left is None else min(count, left)
      rows.append(idx.read_images(path, 0, stop))
      names.extend(f"{os.path.basename(path)}[{i}]" for i in range(stop))
    else:
      rows.append(_picture(path, notes)[np.newaxis])
      names.append(path)
  pixels = np.concatenate(rows) if rows else np.zeros((0, contract.PIXELS), np.uint8)
  return Images(names=names, pixels=pixels, notes=notes)
