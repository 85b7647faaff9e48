"""`prepare-data`'s output directory: its manifest, and putting it in place safely.

Each output holds MANIFEST_FILE: the tool and version that wrote it, the split
counts, the SHA-256 of each source file and the list of files written. Only a
directory with a valid manifest and nothing else in it can be replaced, so
`--overwrite` never deletes what this tool did not write (a typo such as
`--output ~` is refused). The new output is renamed into place under a lock on
the parent directory, after checking again what is there: a concurrent run's
output that appeared meanwhile is never silently replaced.
"""

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import shutil
from importlib import metadata
from typing import Dict, Iterator, List

from pipeline.data import files, idx

MANIFEST_FILE = "prepare-data.json"
COUNTS_FILE = "counts.json"
TOOL = "mnist-tfx prepare-data"


def tool_version() -> str:
  """This project's installed version, or "unknown" when run from an uninstalled checkout."""
  try:
    return metadata.version("mnist-tfx")
  except metadata.PackageNotFoundError:
    return "unknown"


def source_digests(pairs: Dict[str, idx.IdxPair]) -> Dict[str, Dict[str, object]]:
  """File name -> {sha256, bytes} of each source file, as stored (gzip or raw)."""
  out = {}
  for pair in pairs.values():
    for path in (pair.images, pair.labels):
      digest, size = hashlib.sha256(), 0
      with files.open_binary(path) as f:
        while chunk := f.read(files.CHUNK):
          digest.update(chunk)
          size += len(chunk)
      out[path.rsplit("/", 1)[-1]] = {"sha256": digest.hexdigest(), "bytes": size}
  return out


def _written(out_dir: str) -> List[str]:
  """Every file under `out_dir`, relative to it, sorted."""
  return sorted(os.path.relpath(os.path.join(root, name), out_dir)
                for root, _, names in os.walk(out_dir) for name in names)


def write_manifest(out_dir: str, counts: Dict[str, int],
                   sources: Dict[str, Dict[str, object]]) -> None:
  """Writes COUNTS_FILE and MANIFEST_FILE (listing every file already in `out_dir`)."""
  files.write_atomically(os.path.join(out_dir, COUNTS_FILE), json.dumps(counts).encode())
  manifest = {"tool": TOOL, "version": tool_version(),
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "counts": counts, "sources": sources, "files": _written(out_dir)}
  files.write_atomically(os.path.join(out_dir, MANIFEST_FILE),
                         json.dumps(manifest, indent=1).encode())


def check_replaceable(output: str) -> None:
  """Raises FileExistsError (one line) unless `output` is a whole prepare-data output.

  That is: a directory whose manifest was written by this tool and that holds
  no file the manifest does not list.
  """
  refuse = "so --overwrite will not replace it; move it away yourself, or choose another --output"
  if not os.path.isdir(output):
    raise FileExistsError(f"{output} exists and is not a directory, {refuse}")
  try:
    with open(os.path.join(output, MANIFEST_FILE)) as f:
      manifest = json.load(f)
    listed = set(manifest["files"]) if manifest.get("tool") == TOOL else None
  except (OSError, ValueError, KeyError, TypeError):
    listed = None
  if listed is None:
    raise FileExistsError(f"{output} was not written by prepare-data (no valid {MANIFEST_FILE} "
                          f"in it), {refuse}")
  foreign = [name for name in _written(output) if name not in listed | {MANIFEST_FILE}]
  if foreign:
    raise FileExistsError(f"{output} holds {len(foreign)} file(s) prepare-data did not write "
                          f"({', '.join(foreign[:3])}), {refuse}")


def check_target(output: str, overwrite: bool, staging_prefix: str) -> None:
  """Checks, before any work, that `output` may be written; raises FileExistsError if not."""
  owners = files.live_staging_owners(os.path.dirname(output), staging_prefix)
  if owners:
    raise FileExistsError(f"another prepare-data (pid {owners[0]}) is writing {output}; wait "
                          "for it to finish, or choose another --output")
  if os.path.lexists(output):
    if not overwrite:
      raise FileExistsError(f"{output} already exists; pass --overwrite to replace it")
    check_replaceable(output)


@contextlib.contextmanager
def _locked(directory: str) -> Iterator[None]:
  """Holds an exclusive flock on `directory` itself (released on close, or when killed)."""
  fd = os.open(directory, os.O_RDONLY)
  try:
    fcntl.flock(fd, fcntl.LOCK_EX)
    yield
  finally:
    os.close(fd)


def commit(staging: str, output: str, overwrite: bool, staging_prefix: str) -> None:
  """Renames `staging` to `output`, judging what is at `output` now, not at the start.

  Raises:
    FileExistsError: `output` appeared while this run worked (another run's,
      kept) and `overwrite` is False, or it is not replaceable.
  """
  old = os.path.join(os.path.dirname(output), f"{staging_prefix}{os.getpid()}-replaced")
  with _locked(os.path.dirname(output)):
    if os.path.lexists(output):
      if not overwrite:
        raise FileExistsError(f"{output} appeared while this prepare-data ran (another run "
                              "wrote it) and was kept; pass --overwrite to replace it, or "
                              "choose another --output")
      check_replaceable(output)
      os.rename(output, old)  # The name starts with the staging prefix: dead ones get removed.
      try:
        os.rename(staging, output)
      except BaseException:
        os.rename(old, output)
        raise
    else:
      # rename(2) refuses a non-empty directory in the way: a belt to the lock's braces.
      os.rename(staging, output)
  shutil.rmtree(old, ignore_errors=True)
