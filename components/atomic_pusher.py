"""A Pusher whose pushed versions appear whole or not at all.

TFX's stock Pusher copies into `<base>/<version>/` directly, so a push killed
half-way (or one that fills the disk) leaves a newest version with truncated
variables that TF Serving would try to load. This one copies into a hidden
sibling, `<base>/.partial-<host>-<pid>-<version>`, that TF Serving ignores (version
directories are numbers), then renames it into place. The next Pusher execution,
blessed or not, removes partial copies whose process is gone, on this host only
(components/partial_push.py). Blessing checks, the
`pushed` MLMD properties and the version layout are TFX's own.

Each version carries a record of the model artifact it came from (`PUSH_RECORD`):
when the newest version already holds the model being pushed (a rerun with nothing
changed), nothing is published, so TF Serving does not load the same model again.
"""

import json
import logging
import os
import time
from typing import Any, Dict, List, Optional, Union

from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.orchestration import data_types
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import io_utils, proto_utils

from pipeline.data.files import is_remote
from pipeline.layout import PUSH_RECORD
from components.execution_keys import ALREADY_PUSHED_KEY
from components.partial_push import partial_push_name, remove_dead_partial_pushes
from trainer_module.tflite import write_tflite

_LOG = logging.getLogger(__name__)
SERVING_DIR_KEY = "serving_dir"
# Test-only: seconds to wait between copying and publishing, to kill a push there.
PAUSE_ENV = "MNIST_TFX_TEST_PUSH_PAUSE_S"




def model_record(model: types.Artifact) -> Dict[str, Any]:
  """What identifies a model artifact across runs: its ML Metadata id and its URI."""
  return {"model_artifact_id": model.id, "model_uri": model.uri.rstrip("/")}


def newest_version(base: str) -> Optional[str]:
  """The newest numeric version directory under `base`, as TF Serving would pick it."""
  if not fileio.exists(base):
    return None
  versions = [name.rstrip("/") for name in fileio.listdir(base) if name.rstrip("/").isdigit()]
  return max(versions, key=int) if versions else None


def already_pushed(base: str, record: Dict[str, Any]) -> Optional[str]:
  """The newest version's directory if it came from the model `record` describes, else None."""
  version = newest_version(base)
  path = os.path.join(base, version, PUSH_RECORD) if version else None
  if not path or not fileio.exists(path):
    return None
  with fileio.open(path, "r") as f:
    pushed = json.loads(f.read())
  same = (pushed.get("model_artifact_id") == record["model_artifact_id"] if record[
      "model_artifact_id"] else pushed.get("model_uri") == record["model_uri"])
  return os.path.join(base, version) if same else None


def push_atomically(model_path: str, base: str, record: Optional[Dict[str, Any]] = None) -> str:
  """Copies a SavedModel to `base/<unix time>/` via a hidden sibling; returns the version.

  `record`, when given, is written into the version as `PUSH_RECORD` (TF Serving
  ignores files it does not know).
  """
  version = int(time.time())
  while fileio.exists(os.path.join(base, str(version))):
    version += 1  # Two pushes in one second: the later one gets the next number.
  partial = os.path.join(base, partial_push_name(str(version)))
  try:
    io_utils.copy_dir(model_path, partial)
    write_tflite(model_path, partial)  # In the hidden copy: no version appears without it.
    if record is not None:
      with fileio.open(os.path.join(partial, PUSH_RECORD), "w") as f:
        f.write(json.dumps({**record, "version": version}, sort_keys=True))
    if os.environ.get(PAUSE_ENV):
      _LOG.warning("test hook: pausing %s s before publishing %s", os.environ[PAUSE_ENV],
                   partial)
      time.sleep(float(os.environ[PAUSE_ENV]))
    fileio.rename(partial, os.path.join(base, str(version)))
  except BaseException as e:
    if fileio.exists(partial):  # A full disk or an error: leave nothing half-copied.
      fileio.rmtree(partial)
    if isinstance(e, OSError) and not e.filename:  # Say which push it stopped.
      raise OSError(e.errno, e.strerror or str(e), partial) from e
    raise
  return str(version)


class Executor(pusher_executor.Executor):
  """TFX's Pusher executor, publishing each version with one rename."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    model_push = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.PUSHED_MODEL_KEY])
    base = exec_properties.get(SERVING_DIR_KEY) or _destination(exec_properties)
    if not is_remote(base):  # Blessed or not, a killed push's copy goes now.
      remove_dead_partial_pushes(base)
    if not self.CheckBlessing(input_dict):
      self._MarkNotPushed(model_push)
      return
    record = model_record(artifact_utils.get_single_instance(
        input_dict[standard_component_specs.MODEL_KEY]))
    existing = already_pushed(base, record)
    if existing:
      _LOG.info("not pushed: the newest version, %s, already holds this model", existing)
      self._MarkNotPushed(model_push)
      model_push.set_string_custom_property(ALREADY_PUSHED_KEY, existing)
      return
    model_path = self.GetModelPath(input_dict)
    version = push_atomically(model_path, base, record)
    _LOG.info("pushed %s to %s", model_path, os.path.join(base, version))
    io_utils.copy_dir(model_path, model_push.uri)
    self._MarkPushed(model_push, pushed_destination=os.path.join(base, version),
                     pushed_version=version)


def _destination(exec_properties: Dict[str, Any]) -> str:
  """The base directory of TFX's `push_destination`, for executions recorded before
  `serving_dir` existed."""
  destination = pusher_pb2.PushDestination()
  proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY],
                            destination)
  return destination.filesystem.base_directory


class AtomicPusherSpec(standard_component_specs.PusherSpec):
  """TFX's PusherSpec plus `serving_dir`, a plain string: a compiled pipeline exposes it as
  a runtime parameter, which cannot reach into the `push_destination` proto."""
  PARAMETERS = {**standard_component_specs.PusherSpec.PARAMETERS,
                SERVING_DIR_KEY: ExecutionParameter(type=str)}


class AtomicPusher(base_component.BaseComponent):
  """Pushes a blessed `model` to `serving_dir/<version>/`, each version appearing whole."""

  SPEC_CLASS = AtomicPusherSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

  def __init__(self, model: types.BaseChannel, model_blessing: types.BaseChannel,
               serving_dir: Union[str, data_types.RuntimeParameter]):
    super().__init__(spec=AtomicPusherSpec(
        model=model, model_blessing=model_blessing, serving_dir=serving_dir,
        pushed_model=types.Channel(type=standard_artifacts.PushedModel)))
