"""ServedBaseline's rule: the newest complete pushed version, never a partial copy."""

import json
import os

from components.served_baseline import copy_baseline, newest_served_version, push_record
from pipeline.layout import PARTIAL_PUSH_PREFIX, PUSH_RECORD


def _version(base, name, complete=True):
  path = os.path.join(base, name)
  os.makedirs(path)
  with open(os.path.join(path, "saved_model.pb"), "wb") as f:
    f.write(b"model " + name.encode())
  if complete:
    with open(os.path.join(path, PUSH_RECORD), "w", encoding="utf-8") as f:
      json.dump({"model_uri": f"/m/{name}", "version": name}, f)
  return path


def test_the_newest_complete_version_is_chosen(tmp_path):
  base = str(tmp_path / "serving")
  _version(base, "100")
  newest_complete = _version(base, "200")
  _version(base, "300", complete=False)  # Not pushed whole by this pipeline.
  _version(base, f"{PARTIAL_PUSH_PREFIX}host-1-400")
  _version(base, "tflite-notes")
  assert newest_served_version(base) == newest_complete


def test_nothing_served_is_none(tmp_path):
  assert newest_served_version(str(tmp_path / "missing")) is None
  os.makedirs(tmp_path / "empty")
  assert newest_served_version(str(tmp_path / "empty")) is None
  assert copy_baseline(str(tmp_path / "empty"), str(tmp_path / "model")) == ""
  assert not os.path.exists(tmp_path / "model")


def test_the_copy_is_laid_out_as_a_trainer_model_with_its_record(tmp_path):
  base = str(tmp_path / "serving")
  version = _version(base, "200")
  model_uri = str(tmp_path / "model")
  assert copy_baseline(base, model_uri) == version
  assert os.path.exists(os.path.join(model_uri, "Format-Serving", "saved_model.pb"))
  assert push_record(model_uri)["model_uri"] == "/m/200"
