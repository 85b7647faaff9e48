"""The Evaluator's threshold parameter and its self-baseline check, without a pipeline run."""

import pytest
from tfx.types import standard_artifacts, standard_component_specs as specs

from components.evaluator import (ACCURACY_THRESHOLD_KEY, apply_accuracy_threshold,
                                  is_self_baseline)


def test_the_threshold_becomes_the_eval_config():
  import tensorflow_model_analysis as tfma  # pylint: disable=import-outside-toplevel
  from tfx.utils import proto_utils  # pylint: disable=import-outside-toplevel
  properties = apply_accuracy_threshold({ACCURACY_THRESHOLD_KEY: 0.93, "other": 1})
  assert ACCURACY_THRESHOLD_KEY not in properties and properties["other"] == 1
  config = proto_utils.json_to_proto(properties[specs.EVAL_CONFIG_KEY], tfma.EvalConfig())
  thresholds = [t.threshold for m in config.metrics_specs for c in m.metrics
                for t in c.per_slice_thresholds]
  assert [t.value_threshold.lower_bound.value for t in thresholds] == [0.93]


def test_a_threshold_outside_0_1_is_refused():
  with pytest.raises(ValueError, match=r"accuracy_threshold must be in \[0, 1\], got 1.5"):
    apply_accuracy_threshold({ACCURACY_THRESHOLD_KEY: 1.5})


def _model(artifact_id, uri):
  model = standard_artifacts.Model()
  model.id, model.uri = artifact_id, uri
  return model


@pytest.mark.parametrize("candidate,baseline,expected", [
    (_model(5, "/m/5"), _model(5, "/m/5"), True),
    (_model(5, "/m/5"), _model(4, "/m/4"), False),
    (_model(0, "/m/5/"), _model(0, "/m/5"), True),  # No ids (not yet in MLMD): by URI.
    (_model(5, "/m/5"), None, False),
])
def test_the_candidate_is_never_its_own_baseline(candidate, baseline, expected):
  inputs = {specs.MODEL_KEY: [candidate],
            specs.BASELINE_MODEL_KEY: [baseline] if baseline else []}
  assert is_self_baseline(inputs) is expected
