"""Reads the dataset's files out of a package archive, by name, after checking its digest.

Nothing here extracts an archive: tarfile's `extractall` (with or without its `data`
filter, which CPython before 3.10.18 lets a symlink chain past PATH_MAX escape,
CVE-2025-4517) is never called, and no path from inside an archive is ever used to
write. The expected members are copied, as regular files, to names the caller picks,
each at most its published size.
"""

import hashlib
import os
import stat
import tarfile
from typing import BinaryIO, Dict, Optional, Tuple

from pipeline.data.datasets import ArchivePin
from pipeline.data.files import CHUNK
from pipeline.data.limits import check_deadline, copy_bounded


class ArchiveError(ValueError):
  """An archive is not the pinned one, or holds something other than what is expected."""


def verify_archive(path: str, pin: Optional[ArchivePin], deadline: Optional[float] = None) -> None:
  """Checks `path`'s size, then its digest, against `pin`, before anything opens it."""
  name = os.path.basename(path)
  if pin is None:
    raise ArchiveError(f"{name}: no digest is pinned for it in pipeline/data/datasets.py, "
                       "so it is not opened")
  info = os.lstat(path)
  if not stat.S_ISREG(info.st_mode):  # A link to /dev/zero, a fifo, ...: never opened.
    raise ArchiveError(f"{name}: not a regular file, so it is not opened")
  size = info.st_size
  if size != pin.size:
    raise ArchiveError(f"{name}: {size:,} bytes, expected the pinned {pin.size:,}")
  digest = hashlib.new(pin.algorithm)
  with open(path, "rb") as f:
    while chunk := f.read(CHUNK):
      digest.update(chunk)
      check_deadline(deadline, name)
  if digest.hexdigest() != pin.hexdigest:
    raise ArchiveError(f"{name}: {pin.algorithm} {digest.hexdigest()[:12]}…, expected the "
                       f"pinned {pin.hexdigest[:12]}…; not opened")


def _kind(member: tarfile.TarInfo) -> str:
  """What a non-regular member is, in words, for the error naming it."""
  if member.issym():
    return f"a symbolic link to {member.linkname!r}"
  if member.islnk():
    return f"a hard link to {member.linkname!r}"
  kinds = {tarfile.DIRTYPE: "a directory", tarfile.FIFOTYPE: "a fifo",
           tarfile.CHRTYPE: "a character device", tarfile.BLKTYPE: "a block device"}
  return kinds.get(member.type, f"of tar type {member.type!r}")


def _normal(name: str) -> str:
  """A member name without the `./` that dpkg's archives put in front."""
  return name[2:] if name.startswith("./") else name


def copy_members(fileobj: BinaryIO, mode: str, wanted: Dict[str, Tuple[str, int]],
                 what: str, deadline: Optional[float] = None) -> None:
  """Copies the members named in `wanted` (name -> (destination, size cap)) out of a tar.

  The tar is read as a stream (`mode` like `r|gz`), once. Raises ArchiveError naming
  the member when one is missing, appears twice, is not a regular file (a link, a
  device, a fifo, a directory) or is bigger than its cap.
  """
  done = set()
  with tarfile.open(fileobj=fileobj, mode=mode) as tar:
    for member in tar:
      check_deadline(deadline, what)
      name = _normal(member.name)
      if name not in wanted:
        continue
      if name in done:
        raise ArchiveError(f"{what}: member {name} appears twice")
      if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
        raise ArchiveError(f"{what}: member {name} is {_kind(member)}, not a regular file")
      dest, cap = wanted[name]
      if member.size > cap:
        raise ArchiveError(f"{what}: member {name} is {member.size:,} bytes, more than the "
                           f"{cap:,} its published file can be")
      with tar.extractfile(member) as src, open(dest, "xb") as out:
        copy_bounded(src.read, out, cap, f"{what}: member {name}", deadline)
      done.add(name)
  missing = sorted(set(wanted) - done)
  if missing:
    raise ArchiveError(f"{what}: no regular file {missing[0]} in it")


class _Slice:
  """`size` bytes of an open file from where it stands: one member of an ar archive."""

  def __init__(self, f: BinaryIO, size: int):
    self.f, self.left = f, size

  def read(self, n: int = -1) -> bytes:
    n = self.left if n < 0 else min(n, self.left)
    data = self.f.read(n)
    self.left -= len(data)
    return data


_DEB_TAR_MODES = {"data.tar": "r|", "data.tar.gz": "r|gz", "data.tar.xz": "r|xz",
                  "data.tar.bz2": "r|bz2"}


def copy_deb_members(path: str, wanted: Dict[str, Tuple[str, int]],
                     deadline: Optional[float] = None) -> None:
  """`copy_members` for the files of a .deb (an ar archive whose data.tar.* holds them)."""
  what = os.path.basename(path)
  with open(path, "rb") as f:
    if f.read(8) != b"!<arch>\n":
      raise ArchiveError(f"{what}: not a Debian package (no ar header)")
    while len(header := f.read(60)) == 60:
      name = header[:16].decode("ascii", "replace").strip().rstrip("/")
      field = header[48:58].strip()
      size = int(field) if field.isdigit() else -1
      if size < 0:
        raise ArchiveError(f"{what}: a corrupt ar header for {name!r}")
      if name in _DEB_TAR_MODES:
        copy_members(_Slice(f, size), _DEB_TAR_MODES[name], wanted,  # type: ignore[arg-type]
                     f"{what}: {name}", deadline)
        return
      f.seek(size + size % 2, os.SEEK_CUR)  # ar pads members to an even offset.
  raise ArchiveError(f"{what}: no data.tar.{{gz,xz,bz2}} in it")
