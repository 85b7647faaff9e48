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

from pipeline.layout import (PARTIAL_PUSH_PREFIX, metadata_path, pipeline_root_under,
                             serving_root_under)
from pipeline.data.files import remove_dead_staging

_LOG = logging.getLogger(__name__)


class RunLockedError(ValueError):
  """Another live run holds the pipeline's lock under this output root."""


@contextlib.contextmanager
def run_lock(lock_path: str) -> Iterator[None]:
  """Holds an exclusive lock for one run; a second run refuses at once, naming the first.

  The lock is the kernel's (flock), so it is released when its process dies,
  even by SIGKILL: a killed run never blocks the next one.
  """
  os.makedirs(os.path.dirname(lock_path), exist_ok=True)
  fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
      raise RunLockedError(
          f"another run (pid {holder}) is using {os.path.dirname(lock_path)}; wait for it "
          "to finish, or give this run another --output-root") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    yield
  finally:
    os.close(fd)  # Closing releases the lock.


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


def clean(output_root: str, pipeline_name: str) -> Tuple[int, int]:
  """Removes what killed or failed runs left: unused outputs and partial pushes.

  Returns (outputs removed, bytes freed). Call it under `exclusive_run`.
  """
  uris = failed_outputs(metadata_path(output_root, pipeline_name),
                        pipeline_root_under(output_root, pipeline_name))
  freed = remove_outputs(uris)
  serving = serving_root_under(output_root, pipeline_name)
  for model in os.listdir(serving) if os.path.isdir(serving) else []:
    remove_dead_staging(os.path.join(serving, model), PARTIAL_PUSH_PREFIX)
  for uri in uris:
    _LOG.info("removed %s", uri)
  return len(uris), freed


def _store(db_path: str):
  """A read-write ML Metadata store over an existing SQLite file."""
  import ml_metadata as mlmd  # pylint: disable=import-outside-toplevel
  from ml_metadata.proto import metadata_store_pb2  # pylint: disable=import-outside-toplevel
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
  from ml_metadata.proto import metadata_store_pb2  # pylint: disable=import-outside-toplevel
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
  from ml_metadata.proto import metadata_store_pb2  # pylint: disable=import-outside-toplevel
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
