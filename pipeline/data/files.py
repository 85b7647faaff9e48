"""File helpers shared by the data layer, the runners and the reports.

Local paths use the standard library; other schemes (gs://, ...) go through
Beam's FileSystems, imported only then because it costs seconds.
"""

import gzip
import logging
import os
import re
import shutil
import tempfile
from typing import BinaryIO, List

_LOG = logging.getLogger(__name__)
CHUNK = 1 << 20  # Read/copy buffer.
GZIP_MAGIC = b"\x1f\x8b"


def is_remote(path: str) -> bool:
  """True for `scheme://...` paths that only Beam's FileSystems can open."""
  return "://" in path


# `s3://b/p`, `gs://b`, `s3:/b` (a slash lost in a shell variable): never a local name here.
_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")


def looks_remote(path: str) -> bool:
  """True for a path that names a URL, even a malformed one: `os.path` would take `s3:/b`
  for a local directory named `s3:`."""
  return bool(_URL_LIKE.match(path))


def join(directory: str, name: str) -> str:
  """`directory/name` for local and `scheme://` paths alike."""
  return directory.rstrip("/") + "/" + name


def open_binary(path: str) -> BinaryIO:
  """Opens `path` for reading bytes, locally or through Beam's FileSystems."""
  if not is_remote(path):
    return open(path, "rb")
  from apache_beam.io.filesystem import CompressionTypes
  return beam_filesystems().open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def beam_filesystems():
  """Beam's FileSystems, with options set outside a pipeline too.

  Beam's S3 filesystem refuses to work without pipeline options; empty ones let
  boto3 take the endpoint and keys from the environment (AWS_ENDPOINT_URL,
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
  """
  from apache_beam.io.filesystems import FileSystems
  from apache_beam.options.pipeline_options import PipelineOptions
  if FileSystems._pipeline_options is None:
    FileSystems.set_options(PipelineOptions([]))
  return FileSystems


def is_gzip(path: str) -> bool:
  """True when the file's content (not its name) is gzip."""
  with open_binary(path) as f:
    return f.read(2) == GZIP_MAGIC


def open_maybe_gzip(path: str) -> BinaryIO:
  """Opens `path`, gunzipping transparently when its content (not its name) is gzip."""
  raw = open_binary(path)
  head = raw.read(2)
  raw.seek(0)
  return gzip.GzipFile(fileobj=raw) if head == GZIP_MAGIC else raw


def match(pattern: str) -> List[str]:
  """Sorted files matching a glob, local or remote."""
  if not is_remote(pattern):
    import glob
    return sorted(glob.glob(pattern))
  return sorted(m.path for r in beam_filesystems().match([pattern]) for m in r.metadata_list)


def write_atomically(path: str, data: bytes) -> str:
  """Writes `data` to `path` so that readers see the old file or the whole new one.

  The bytes go to a temporary sibling first, then are renamed over `path`; a
  failure removes the temporary file. Returns `path`.
  """
  if is_remote(path):
    from apache_beam.io.filesystem import CompressionTypes
    filesystems = beam_filesystems()
    with filesystems.create(path + ".tmp", compression_type=CompressionTypes.UNCOMPRESSED) as f:
      f.write(data)
    filesystems.rename([path + ".tmp"], [path])
    return path
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}-")
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(data)
    os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes it 0600; the result should not be.
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
  return path


def current_umask() -> int:
  """The process umask (reading it means setting it, so it is set back at once)."""
  mask = os.umask(0)
  os.umask(mask)
  return mask


def process_alive(pid: int) -> bool:
  """True while process `pid` runs; names of staging directories carry their owner's pid."""
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # Someone else's live process.
    return True
  return True


def remove_dead_staging(directory: str, prefix: str) -> List[str]:
  """Removes `directory/<prefix><pid>-...` entries whose process `pid` no longer runs.

  Staging directories carry the pid of the process that builds them; one whose
  process is gone was left by a kill (SIGKILL, power loss) and is never used.
  Local paths only: a pid means nothing on another machine.
  """
  removed = []
  for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
    pid = name[len(prefix):].split("-", 1)[0]
    if name.startswith(prefix) and pid.isdigit() and not process_alive(int(pid)):
      shutil.rmtree(os.path.join(directory, name), ignore_errors=True)
      removed.append(name)
  if removed:
    _LOG.warning("removed what killed runs left in %s: %s", directory, ", ".join(removed))
  return removed


def live_staging_owners(directory: str, prefix: str) -> List[int]:
  """Pids of other running processes that own a `directory/<prefix><pid>-...` entry."""
  pids = set()
  for name in os.listdir(directory) if os.path.isdir(directory) else []:
    pid = name[len(prefix):].split("-", 1)[0]
    if name.startswith(prefix) and pid.isdigit() and int(pid) != os.getpid():
      pids.add(int(pid))
  return sorted(pid for pid in pids if process_alive(pid))
