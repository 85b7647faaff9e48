"""The TFMA Evaluator with its accuracy threshold as an execution parameter of its own.

The threshold sits deep inside TFMA's EvalConfig proto, and Kubeflow runtime
parameters can only replace a whole execution property. Here
`accuracy_threshold` is a plain float that a compiled pipeline exposes as a
parameter; the executor builds the EvalConfig from it (`make_eval_config`),
so the threshold lives in one place.
"""

import logging
from typing import Any, Dict, List, Union

import tensorflow_model_analysis as tfma
from tfx import types
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.orchestration import data_types
from tfx.types import standard_artifacts, standard_component_specs as specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils, proto_utils

from components.execution_keys import SELF_BASELINE_KEY
from components.served_baseline import came_from, holds_model, push_record
from pipeline.data.contract import LABEL_KEY

ACCURACY_THRESHOLD_KEY = "accuracy_threshold"
_LOG = logging.getLogger(__name__)


def make_eval_config(accuracy_threshold: float) -> tfma.EvalConfig:
  """Accuracy above an absolute bound and not below the baseline's; slices overall and by label."""
  accuracy_threshold_spec = tfma.MetricThreshold(
      value_threshold=tfma.GenericValueThreshold(lower_bound={"value": accuracy_threshold}),
      # Any drop against the last blessed model fails; -1e-10 tolerates float noise.
      change_threshold=tfma.GenericChangeThreshold(
          direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -1e-10}))
  return tfma.EvalConfig(
      model_specs=[tfma.ModelSpec(
          signature_name="serving_default", label_key=LABEL_KEY,
          prediction_key="probabilities", model_type=tfma.TF_GENERIC)],
      slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[LABEL_KEY])],
      metrics_specs=[tfma.MetricsSpec(metrics=[
          tfma.MetricConfig(class_name="ExampleCount"),
          # Gate on the overall slice only: per-label accuracy is reported, not gated.
          tfma.MetricConfig(class_name="SparseCategoricalAccuracy", per_slice_thresholds=[
              tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()],
                                           threshold=accuracy_threshold_spec)]),
          tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
      ])])


class EvaluatorSpec(specs.EvaluatorSpec):
  """TFX's EvaluatorSpec plus `accuracy_threshold`."""
  PARAMETERS = {**specs.EvaluatorSpec.PARAMETERS,
                ACCURACY_THRESHOLD_KEY: ExecutionParameter(type=float)}


def apply_accuracy_threshold(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
  """The execution properties TFX's Evaluator expects: an EvalConfig built from the threshold."""
  properties = dict(exec_properties)
  threshold = float(properties.pop(ACCURACY_THRESHOLD_KEY))
  if not 0 <= threshold <= 1:
    raise ValueError(f"accuracy_threshold must be in [0, 1], got {threshold}")
  properties[specs.EVAL_CONFIG_KEY] = proto_utils.proto_to_json(make_eval_config(threshold))
  return properties


def is_self_baseline(input_dict: Dict[str, List[types.Artifact]]) -> bool:
  """True when the baseline offered is the candidate model itself.

  On a rerun with nothing changed the Trainer is cached, so the model being served
  (ServedBaseline's copy, whose push record names the model it came from) is the
  very model being evaluated. Comparing it with itself says nothing.
  """
  baseline = input_dict.get(specs.BASELINE_MODEL_KEY) or []
  candidate = input_dict.get(specs.MODEL_KEY) or []
  if not baseline or not candidate:
    return False
  if baseline[0].id and candidate[0].id and baseline[0].id == candidate[0].id:
    return True
  return came_from(push_record(baseline[0].uri), candidate[0])


def served_baseline(input_dict: Dict[str, List[types.Artifact]]) -> List[types.Artifact]:
  """The baseline to compare with: ServedBaseline's model when it holds one, else none."""
  baseline = input_dict.get(specs.BASELINE_MODEL_KEY) or []
  return [m for m in baseline if holds_model(m.uri)]


class Executor(evaluator_executor.Executor):
  """TFX's Evaluator executor, after `apply_accuracy_threshold`, never comparing the
  candidate with itself."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
    input_dict = {**input_dict, specs.BASELINE_MODEL_KEY: served_baseline(input_dict)}
    self_baseline = is_self_baseline(input_dict)
    if self_baseline:
      _LOG.info("the candidate is already the model being served: evaluating it on its own, "
                "not against itself")
      input_dict = {**input_dict, specs.BASELINE_MODEL_KEY: []}
    super().Do(input_dict, output_dict, apply_accuracy_threshold(exec_properties))
    for blessing in output_dict[specs.BLESSING_KEY]:
      blessing.set_int_custom_property(SELF_BASELINE_KEY, int(self_baseline))


class Evaluator(base_beam_component.BaseBeamComponent):
  """Scores `model` on `example_splits`; blesses it at or above `accuracy_threshold` and
  not below `baseline_model`."""

  SPEC_CLASS = EvaluatorSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

  def __init__(self, examples: types.BaseChannel, model: types.BaseChannel,
               baseline_model: types.BaseChannel,
               accuracy_threshold: Union[float, data_types.RuntimeParameter],
               example_splits: List[str]):
    super().__init__(spec=EvaluatorSpec(
        examples=examples, model=model, baseline_model=baseline_model,
        accuracy_threshold=accuracy_threshold, example_splits=json_utils.dumps(example_splits),
        evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
        blessing=types.Channel(type=standard_artifacts.ModelBlessing)))
