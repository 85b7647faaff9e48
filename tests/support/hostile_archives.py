"""Tiny hostile inputs for the fetch code: archives, gzip bombs and stand-in tools.

Each builder writes small files in a test's temp dir; `tiny_spec` pins their digests
and sizes the way pipeline/data/datasets.py pins the real ones.
"""

import dataclasses
import gzip
import hashlib
import io
import os
import tarfile
import zlib
from typing import Iterable, List, Optional, Tuple

from pipeline.data import contract
from pipeline.data.datasets import ArchivePin, DatasetSpec

IDX_FILES = contract.all_idx_files()
Member = Tuple[tarfile.TarInfo, Optional[bytes]]  # Or a reader, for write_tar.


def tiny_spec(idx_dir: str, **fields) -> DatasetSpec:
  """A spec whose digests and sizes are those of the fixture files in `idx_dir`."""
  digests, sizes = {}, {}
  for name in IDX_FILES:
    with open(os.path.join(idx_dir, name), "rb") as f:
      data = f.read()
    digests[name], sizes[name] = hashlib.sha256(data).hexdigest(), len(data)
  return DatasetSpec(name="tiny", sha256=digests, mirrors=(), sizes=sizes, **fields)


def pin(path: str, algorithm: str = "sha512") -> ArchivePin:
  """The pin `path` would need: its size and digest."""
  with open(path, "rb") as f:
    data = f.read()
  return ArchivePin(len(data), algorithm, hashlib.new(algorithm, data).hexdigest())


def pinned(spec: DatasetSpec, **pins: ArchivePin) -> DatasetSpec:
  return dataclasses.replace(spec, **pins)


def member(name: str, data: Optional[bytes] = None, kind: bytes = tarfile.REGTYPE,
           linkname: str = "") -> Member:
  """A tar member: a regular file holding `data`, or a link, device, fifo or directory."""
  info = tarfile.TarInfo(name)
  info.type, info.linkname = kind, linkname
  if data is not None:
    info.size = len(data)
  return info, data


def idx_members(idx_dir: str, prefix: str, suffix: str = "") -> List[Member]:
  """The four fixture files as members `<prefix>/<name><suffix>` (gzipped with `.gz`)."""
  out = []
  for name in IDX_FILES:
    with open(os.path.join(idx_dir, name), "rb") as f:
      data = f.read()
    out.append(member(f"{prefix}/{name}{suffix}",
                      gzip.compress(data, mtime=0) if suffix == ".gz" else data))
  return out


def escape_members(ups: int, outside: str = "outside") -> List[Member]:
  """CVE-2025-4517's chain: nested directories and symlinks whose path passes PATH_MAX,
  so CPython < 3.10.18's `data` filter cannot resolve them, then a link `ups` levels up
  from the extraction directory into `outside`, and a file `PWNED` written through it."""
  comp, steps, path, out = "d" * 247, "abcdefghijklmnop", "", []
  for step in steps:
    out.append(member(os.path.join(path, comp), kind=tarfile.DIRTYPE))
    out.append(member(os.path.join(path, step), kind=tarfile.SYMTYPE, linkname=comp))
    path = os.path.join(path, comp)
  long_link = os.path.join(*steps, "l" * 254)
  out.append(member(long_link, kind=tarfile.SYMTYPE, linkname="../" * len(steps)))
  out.append(member("escape", kind=tarfile.SYMTYPE,
                    linkname=long_link + "/.." * ups + "/" + outside))
  out.append(member("escape/PWNED", b"pwned\n"))
  return out


def write_tar(path: str, members: Iterable[Member], mode: str = "w:gz") -> str:
  """Writes the members, in order, into a tar at `path`; returns `path`. A member's data
  may also be anything with `read(n)`, for members too big to hold."""
  with tarfile.open(path, mode) as tar:
    for info, data in members:
      tar.addfile(info, io.BytesIO(data) if isinstance(data, bytes) else data)
  return path


def write_deb(path: str, members: Iterable[Member]) -> str:
  """A .deb (ar: debian-binary, control.tar.xz, data.tar.xz) whose data.tar.xz holds `members`."""
  def tar_bytes(items: Iterable[Member]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
      for info, data in items:
        tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()

  entries = [("debian-binary", b"2.0\n"), ("control.tar.xz", tar_bytes([])),
             ("data.tar.xz", tar_bytes(members))]
  with open(path, "wb") as f:
    f.write(b"!<arch>\n")
    for name, data in entries:
      f.write(f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode())
      f.write(data + (b"\n" if len(data) % 2 else b""))
  return path


def gzip_bomb(path: str, size: int) -> str:
  """`size` zero bytes, gzipped (about 1/1000 of `size` on disk), without holding them."""
  compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip header and trailer.
  zeros = bytes(1 << 20)
  with open(path, "wb") as f:
    for start in range(0, size, len(zeros)):
      f.write(compressor.compress(zeros[:size - start]))
    f.write(compressor.flush())
  return path


def stand_in_tool(bin_dir: str, name: str, script: str) -> str:
  """Writes an executable `bin_dir/name` running the shell `script`; returns `bin_dir`."""
  os.makedirs(bin_dir, exist_ok=True)
  path = os.path.join(bin_dir, name)
  with open(path, "w", encoding="utf-8") as f:
    f.write("#!/bin/sh\n" + script + "\n")
  os.chmod(path, 0o755)
  return bin_dir


def failure_line(message: str, source: str) -> str:
  """The one line of a FetchError's `message` about `source` (fails unless exactly one)."""
  [line] = [row.strip() for row in message.splitlines() if row.strip().startswith(source)]
  return line
