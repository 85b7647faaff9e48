"""The Trainer with its step count as an execution parameter of its own.

TFX keeps the step count inside `train_args`, a proto. Kubeflow runtime
parameters (`RuntimeParameter`) can only replace a whole execution property,
and a proto-valued one would make users type JSON. Here `train_steps` is a
plain int that a compiled pipeline exposes as a parameter; the executor writes
it into `train_args` before the standard executor runs.
"""

from typing import Any, Dict, List, Union

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.extensions.google_cloud_ai_platform.trainer import executor as vertex_executor
from tfx.orchestration import data_types
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts, standard_component_specs as specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils, proto_utils

TRAIN_STEPS_KEY = "train_steps"


class TrainerSpec(specs.TrainerSpec):
  """TFX's TrainerSpec plus `train_steps`."""
  PARAMETERS = {**specs.TrainerSpec.PARAMETERS, TRAIN_STEPS_KEY: ExecutionParameter(type=int)}


def apply_train_steps(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
  """The execution properties TFX's executors expect: `train_steps` moved into `train_args`."""
  properties = dict(exec_properties)
  steps = int(properties.pop(TRAIN_STEPS_KEY))
  if steps <= 0:
    raise ValueError(f"train_steps must be positive, got {steps}")
  train_args = trainer_pb2.TrainArgs()
  proto_utils.json_to_proto(properties[specs.TRAIN_ARGS_KEY], train_args)
  train_args.num_steps = steps
  properties[specs.TRAIN_ARGS_KEY] = proto_utils.proto_to_json(train_args)
  return properties


class Executor(trainer_executor.GenericExecutor):
  """TFX's run_fn executor, after `apply_train_steps`."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
    super().Do(input_dict, output_dict, apply_train_steps(exec_properties))


class VertexExecutor(vertex_executor.GenericExecutor):
  """TFX's Vertex AI training-job executor, after `apply_train_steps`."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
    super().Do(input_dict, output_dict, apply_train_steps(exec_properties))


class Trainer(base_component.BaseComponent):
  """Runs `run_fn` for `train_steps` steps, here or (with `on_vertex`) as a Vertex AI job."""

  SPEC_CLASS = TrainerSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

  def __init__(self, examples: types.BaseChannel, run_fn: str,
               train_steps: Union[int, data_types.RuntimeParameter],
               eval_args: trainer_pb2.EvalArgs, custom_config: Dict[str, Any],
               train_splits: List[str], on_vertex: bool = False):
    spec = TrainerSpec(
        examples=examples, run_fn=run_fn, train_steps=train_steps,
        train_args=trainer_pb2.TrainArgs(splits=train_splits), eval_args=eval_args,
        custom_config=json_utils.dumps(custom_config),
        model=types.Channel(type=standard_artifacts.Model),
        model_run=types.Channel(type=standard_artifacts.ModelRun))
    super().__init__(spec=spec, custom_executor_spec=(
        executor_spec.ExecutorClassSpec(VertexExecutor) if on_vertex else None))
