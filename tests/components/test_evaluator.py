"""The Evaluator's threshold parameter and its baseline checks, without a pipeline run."""

import json

import pytest
from tfx.types import standard_artifacts, standard_component_specs as specs

from components.evaluator import (ACCURACY_THRESHOLD_KEY, apply_accuracy_threshold,
                                  is_self_baseline, served_baseline)
from pipeline.layout import PUSH_RECORD


def test_the_threshold_becomes_the_eval_config():
  import tensorflow_model_analysis as tfma
  from tfx.utils import proto_utils
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


def _baseline(tmp_path, record):
  """A ServedBaseline output: a copy of a pushed version, its push record inside."""
  serving = tmp_path / "baseline" / "Format-Serving"
  serving.mkdir(parents=True)
  (serving / "saved_model.pb").write_bytes(b"")
  if record is not None:
    (serving / PUSH_RECORD).write_text(json.dumps(record))
  return _model(9, str(tmp_path / "baseline"))


@pytest.mark.parametrize("candidate,record,expected", [
    (_model(5, "/m/5"), {"model_artifact_id": 5, "model_uri": "/m/5"}, True),
    (_model(5, "/m/5"), {"model_artifact_id": 4, "model_uri": "/m/4"}, False),
    # No ids (no ML Metadata: open-source KFP 2.x): by URI.
    (_model(0, "/m/5/"), {"model_artifact_id": 0, "model_uri": "/m/5"}, True),
    (_model(0, "/m/5"), {"model_artifact_id": 0, "model_uri": "/m/6"}, False),
    (_model(5, "/m/5"), None, False),
])
def test_the_candidate_is_never_its_own_baseline(candidate, record, expected, tmp_path):
  inputs = {specs.MODEL_KEY: [candidate], specs.BASELINE_MODEL_KEY: [_baseline(tmp_path, record)]}
  assert is_self_baseline(inputs) is expected


def test_an_empty_baseline_means_nothing_was_served(tmp_path):
  empty = _model(3, str(tmp_path / "nothing"))
  held = _baseline(tmp_path, {"model_uri": "/m/1"})
  assert served_baseline({specs.BASELINE_MODEL_KEY: [empty]}) == []
  assert served_baseline({specs.BASELINE_MODEL_KEY: [held]}) == [held]
