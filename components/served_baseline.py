"""ServedBaseline: the model being served, as the Evaluator's baseline.

It replaces TFX's Resolver (LatestBlessedModelStrategy), which reads ML Metadata:
open-source Kubeflow Pipelines 2.x implements no resolver executor and is removing
ML Metadata, and on Vertex AI the Resolver's query spans every pipeline of the
project. The rule here needs only the serving directory, on every runner: the
newest numeric version under `serving_dir` that carries the Pusher's record
(`PUSH_RECORD`, written inside the hidden copy before its rename, so a version
without it is not one this pipeline pushed whole); never a `.partial-*` copy.

The executor copies that version into its `model` output as TFX lays out a
Trainer's model (`Format-Serving/`), so the Evaluator loads it like any model.
With nothing served, `model` stays empty and the candidate is gated on the
threshold alone.

Caching: the driver (local BeamDagRunner, the Argo file) puts the chosen version
in the execution properties before the cache is consulted, so a new push makes
the next run look again; compiled for KFP v2 the task runs uncached
(pipeline/runners/kubeflow_v2.py), since those backends run no custom driver.
"""

import json
import logging
import os
from typing import Any, Dict, List, Optional

from tfx import types
from tfx.dsl.components.base import base_component, base_driver, base_executor, executor_spec
from tfx.dsl.io import fileio
from tfx.orchestration import data_types, data_types_utils, metadata
from tfx.orchestration.portable import base_driver as ir_base_driver
from tfx.orchestration.portable import data_types as portable_data_types
from tfx.proto.orchestration import driver_output_pb2
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.utils import io_utils, path_utils

from pipeline.layout import PUSH_RECORD

SERVING_DIR_KEY = "serving_dir"
# The version directory chosen, or "" for none: set by the driver, read by the executor.
SERVED_VERSION_KEY = "served_version"
MODEL_KEY = "model"
_LOG = logging.getLogger(__name__)


def newest_served_version(serving_dir: str) -> Optional[str]:
  """The newest complete pushed version's directory under `serving_dir`, or None."""
  if not serving_dir or not fileio.exists(serving_dir):
    return None
  names = [name.rstrip("/") for name in fileio.listdir(serving_dir)]
  for name in sorted((n for n in names if n.isdigit()), key=int, reverse=True):
    version = os.path.join(serving_dir, name)
    if fileio.exists(os.path.join(version, PUSH_RECORD)):
      return version
  return None


def push_record(model_uri: str) -> Dict[str, Any]:
  """The Pusher's record inside a baseline `model` output, or {} when it holds none."""
  path = os.path.join(path_utils.serving_model_dir(model_uri), PUSH_RECORD)
  if not fileio.exists(path):
    return {}
  with fileio.open(path, "r") as f:
    return json.loads(f.read())


def came_from(record: Dict[str, Any], model: types.Artifact) -> bool:
  """True when a push `record` says it was pushed from `model` (by ML Metadata id where
  both have one, else by URI), as the Pusher's own check does."""
  if not record:
    return False
  if model.id and record.get("model_artifact_id"):
    return record["model_artifact_id"] == model.id
  return record.get("model_uri") == model.uri.rstrip("/")


def holds_model(model_uri: str) -> bool:
  """True when a baseline `model` output holds a SavedModel (something was served)."""
  return fileio.exists(os.path.join(path_utils.serving_model_dir(model_uri), "saved_model.pb"))


def copy_baseline(serving_dir: str, model_uri: str, chosen: Optional[str] = None) -> str:
  """Copies the served version (`chosen`, else the newest now) into `model_uri`'s
  `Format-Serving/`; returns the version directory copied, or "" with nothing served."""
  version = chosen if chosen and fileio.exists(chosen) else newest_served_version(serving_dir)
  if version:
    io_utils.copy_dir(version, path_utils.serving_model_dir(model_uri))
  return version or ""


class ServedBaselineSpec(types.ComponentSpec):
  """Inputs: none. Parameters: the serving directory (and the driver's choice)."""
  PARAMETERS = {SERVING_DIR_KEY: ExecutionParameter(type=str),
                SERVED_VERSION_KEY: ExecutionParameter(type=str, optional=True)}
  INPUTS: Dict[str, ChannelParameter] = {}
  OUTPUTS = {MODEL_KEY: ChannelParameter(type=standard_artifacts.Model)}


class Driver(base_driver.BaseDriver, ir_base_driver.BaseDriver):
  """Chooses the served version before the cache check, so the cache sees a new push."""

  def __init__(self, metadata_handle: metadata.Metadata):
    base_driver.BaseDriver.__init__(self, metadata_handle)
    ir_base_driver.BaseDriver.__init__(self, metadata_handle)

  def run(self, execution_info: portable_data_types.ExecutionInfo
          ) -> driver_output_pb2.DriverOutput:
    result = driver_output_pb2.DriverOutput()
    properties = dict(execution_info.exec_properties)
    properties[SERVED_VERSION_KEY] = newest_served_version(properties[SERVING_DIR_KEY]) or ""
    for key, value in properties.items():
      if value is not None:
        data_types_utils.set_metadata_value(result.exec_properties[key], value)
    return result


class Executor(base_executor.BaseExecutor):
  """Copies the served version into `model` (nothing when none is served)."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
    model = output_dict[MODEL_KEY][0]
    copied = copy_baseline(exec_properties[SERVING_DIR_KEY], model.uri,
                           exec_properties.get(SERVED_VERSION_KEY) or None)
    model.set_string_custom_property(SERVED_VERSION_KEY, copied)
    _LOG.info("baseline: %s", copied or "none (nothing served yet)")


class ServedBaseline(base_component.BaseComponent):
  """Outputs the model being served under `serving_dir`, for the Evaluator to beat."""

  SPEC_CLASS = ServedBaselineSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
  DRIVER_CLASS = Driver

  def __init__(self, serving_dir: "str | data_types.RuntimeParameter"):
    super().__init__(spec=ServedBaselineSpec(
        serving_dir=serving_dir, model=types.Channel(type=standard_artifacts.Model)))
