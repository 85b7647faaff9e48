"""Local runs that survive their predecessors: one run per pipeline and output root at a
time, and executions left RUNNING by a killed run marked FAILED, their outputs removable.

Light to import (no TensorFlow, ML Metadata only when used): a second run is refused
before it loads anything heavy.
"""

import contextlib
import fcntl
import glob
import logging
import os
import shutil
from typing import Iterator, List, Tuple

from pipeline.layout import metadata_path, pipeline_root_under, serving_root_under
from components.partial_push import remove_dead_partial_pushes

_LOG = logging.getLogger(__name__)


class RunLockedError(ValueError):
  """Another live run holds the pipeline's lock under this output root."""


@contextlib.contextmanager
def run_lock(lock_path: str) -> Iterator[None]:
  """Holds an exclusive lock for one run; a second run refuses at once, naming the first.

  The lock is the kernel's (flock), so it is released when its process dies,
  even by SIGKILL: a killed run never blocks the next one. It is taken on the
  directory that holds `lock_path` (next to ML Metadata's file), not on the file:
  flock locks an inode, and a deleted lock file would let a second run lock a
  new one beside the first. `lock_path` only names the holder's pid.
  """
  fd = _lock_directory(os.path.dirname(lock_path), lock_path)
  try:
    with open(lock_path, "w") as f:
      f.write(f"{os.getpid()}\n")
    yield
  finally:
    os.close(fd)  # Closing releases the lock.


def _lock_directory(directory: str, lock_path: str) -> int:
  """An fd of `directory` holding its exclusive flock; RunLockedError if a live run has it."""
  while True:
    os.makedirs(directory, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      os.close(fd)
      raise RunLockedError(
          f"another run ({_holder(lock_path)}) is using {directory}; wait for it "
          "to finish, or give this run another --output-root") from None
    if _same_inode(fd, directory):
      return fd
    os.close(fd)  # Replaced between open and flock: the lock must be on what is there now.


def _same_inode(fd: int, path: str) -> bool:
  """True while `path` still names the file or directory open as `fd`."""
  try:
    here = os.stat(path)
  except FileNotFoundError:
    return False
  there = os.fstat(fd)
  return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _holder(lock_path: str) -> str:
  """"pid N" from the holder's lock file, or what is known when it is gone or not yet written."""
  try:
    with open(lock_path) as f:
      pid = f.read(32).strip()
  except FileNotFoundError:
    pid = ""
  return f"pid {pid}" if pid.isdigit() else "pid unknown: its run.lock was deleted or not yet written"


@contextlib.contextmanager
def exclusive_run(output_root: str, pipeline_name: str) -> Iterator[None]:
  """Holds the pipeline's run lock under `output_root` and recovers from killed runs.

  Two runs on one output root would otherwise interleave in one MLMD and each
  report the other's results. Executions a killed run left RUNNING are marked
  FAILED, so nothing stays RUNNING forever; their outputs are never reused.
  """
  db = metadata_path(output_root, pipeline_name)
  with run_lock(os.path.join(os.path.dirname(db), "run.lock")):
    abandoned = fail_abandoned_executions(db)
    if abandoned:
      _LOG.warning("a killed run left %s unfinished; marked FAILED. Their outputs are never "
                   "reused: `python -m pipeline clean` removes them", ", ".join(abandoned))
    yield


def pipeline_names_under(output_root: str) -> List[str]:
  """The pipelines that have ML Metadata under `output_root`, sorted."""
  root = os.path.dirname(os.path.dirname(metadata_path(output_root, "-")))
  return sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n))) if (
      os.path.isdir(root)) else []


def clean(output_root: str, pipeline_name: str) -> Tuple[int, int]:
  """Removes what killed or failed runs left: unused outputs and partial pushes.

  Returns (outputs removed, bytes freed). Call it under `exclusive_run`.
  """
  uris = failed_outputs(metadata_path(output_root, pipeline_name),
                        pipeline_root_under(output_root, pipeline_name))
  freed = remove_outputs(uris)
  serving = serving_root_under(output_root, pipeline_name)
  for model in os.listdir(serving) if os.path.isdir(serving) else []:
    remove_dead_partial_pushes(os.path.join(serving, model))
  for uri in uris:
    _LOG.info("removed %s", uri)
  return len(uris), freed


def _store(db_path: str):
  """A read-write ML Metadata store over an existing SQLite file."""
  import ml_metadata as mlmd
  from ml_metadata.proto import metadata_store_pb2
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = db_path
  config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE
  return mlmd.MetadataStore(config)


def fail_abandoned_executions(db_path: str) -> List[str]:
  """Marks executions that a dead run left NEW or RUNNING as FAILED; returns their nodes.

  Call it only under `run_lock`: then no live process owns such an execution.
  """
  if not os.path.exists(db_path):
    return []
  from ml_metadata.proto import metadata_store_pb2
  state = metadata_store_pb2.Execution
  store = _store(db_path)
  abandoned = [e for e in store.get_executions() if e.last_known_state in (state.NEW,
                                                                           state.RUNNING)]
  for execution in abandoned:
    execution.last_known_state = state.FAILED
  if abandoned:
    store.put_executions(abandoned)
  return [_node_of(store, e.id) for e in abandoned]


def _node_of(store, execution_id: int) -> str:
  names = [c.name for c in store.get_contexts_by_execution(execution_id) if c.type == "node"]
  return names[0].split(".", 1)[1] if names else "?"


def failed_outputs(db_path: str, pipeline_root: str) -> List[str]:
  """Output directories of FAILED executions: `<root>/<node>/<output>/<execution id>`.

  TFX writes an execution's outputs there before it publishes them, and never
  reads the outputs of a failed execution.
  """
  if not os.path.exists(db_path):
    return []
  from ml_metadata.proto import metadata_store_pb2
  store = _store(db_path)
  failed = [e.id for e in store.get_executions()
            if e.last_known_state == metadata_store_pb2.Execution.FAILED]
  return sorted(path for execution_id in failed
                for path in glob.glob(os.path.join(pipeline_root, _node_of(store, execution_id),
                                                   "*", str(execution_id))))


def remove_outputs(uris: List[str]) -> int:
  """Deletes the directories (or files) at `uris`; returns the bytes freed."""
  freed = 0
  for uri in uris:
    for root, _, names in os.walk(uri):
      freed += sum(os.path.getsize(os.path.join(root, n)) for n in names)
    if os.path.isdir(uri):
      shutil.rmtree(uri, ignore_errors=True)
    else:
      os.remove(uri)
  return freed
