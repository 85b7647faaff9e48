"""The atomic Pusher's executor on real artifacts, without a pipeline run: versions appear
whole, carry the model they came from, and the same model is not published twice."""

import json
import os
import shutil

from tfx.types import standard_artifacts, standard_component_specs as specs
from tfx.utils import path_utils, proto_utils
from tfx.proto import pusher_pb2

from components.atomic_pusher import ALREADY_PUSHED_KEY, Executor, already_pushed, newest_version
from pipeline.layout import PUSH_RECORD


def _model(tmp_path, artifact_id: int, name: str, saved_model: str):
  """A Model artifact holding a copy of a real SavedModel, as the Trainer writes it."""
  model = standard_artifacts.Model()
  model.uri = str(tmp_path / name)
  model.id = artifact_id
  shutil.copytree(saved_model, path_utils.serving_model_path(model.uri))
  return model


def _push(tmp_path, model, blessed: int = 1):
  blessing = standard_artifacts.ModelBlessing()
  blessing.set_int_custom_property("blessed", blessed)
  pushed = standard_artifacts.PushedModel()
  pushed.uri = str(tmp_path / f"pushed-{model.id}-{len(os.listdir(tmp_path))}")
  destination = pusher_pb2.PushDestination(filesystem=pusher_pb2.PushDestination.Filesystem(
      base_directory=str(tmp_path / "serving")))
  Executor().Do({specs.MODEL_KEY: [model], specs.MODEL_BLESSING_KEY: [blessing]},
                {specs.PUSHED_MODEL_KEY: [pushed]},
                {specs.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination)})
  return pushed


def test_the_same_model_is_published_once_and_a_new_one_again(tmp_path, served_model):
  base = str(tmp_path / "serving")
  first = _model(tmp_path, 7, "model-a", served_model[1])
  pushed = _push(tmp_path, first)
  version = newest_version(base)
  assert pushed.get_int_custom_property("pushed") == 1
  with open(os.path.join(base, version, PUSH_RECORD)) as f:
    assert json.load(f) == {"model_artifact_id": 7, "model_uri": first.uri, "version": int(version)}
  assert os.path.isfile(os.path.join(base, version, "saved_model.pb"))
  assert os.path.isfile(os.path.join(base, version, "tflite", "model.tflite"))

  again = _push(tmp_path, first)  # A rerun with nothing changed.
  assert again.get_int_custom_property("pushed") == 0
  assert again.get_string_custom_property(ALREADY_PUSHED_KEY) == os.path.join(base, version)
  assert os.listdir(base) == [version]

  second = _model(tmp_path, 8, "model-b", served_model[1])
  assert _push(tmp_path, second).get_int_custom_property("pushed") == 1
  assert sorted(os.listdir(base), key=int) == [version, newest_version(base)]
  assert newest_version(base) != version
  assert already_pushed(base, {"model_artifact_id": 7, "model_uri": first.uri}) is None


def test_a_model_that_is_not_blessed_is_not_pushed(tmp_path, served_model):
  pushed = _push(tmp_path, _model(tmp_path, 3, "model", served_model[1]), blessed=0)
  assert pushed.get_int_custom_property("pushed") == 0
  assert newest_version(str(tmp_path / "serving")) is None
