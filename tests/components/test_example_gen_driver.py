"""ExampleGen's driver task: TFX's span and fingerprint, written where KFP v2 backends read
a task's output parameters; a change in the data changes the fingerprint."""

import json
import os

import yaml

from components import example_gen_driver as driver
from tests.conftest import write_dataset

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _compiled_input_config() -> str:
  with open(os.path.join(REPO, "pipeline.yaml")) as f:
    spec = yaml.safe_load(f)
  task = spec["root"]["dag"]["tasks"]["ExampleGenDriver"]
  return task["inputs"]["parameters"]["input_config"]["runtimeValue"]["constant"]


def _executor_input(idx_dir, out):
  return {"inputs": {"parameterValues": {"input_base": idx_dir,
                                         "input_config": _compiled_input_config()}},
          "outputs": {"outputFile": str(out / "executor_output.json"),
                      "parameters": {name: {"outputFile": str(out / name)}
                                     for name in driver.OUTPUTS}}}


def test_outputs_are_written_both_ways_and_follow_the_data(tmp_path, capsys):
  idx_dir = str(tmp_path / "idx")
  write_dataset(idx_dir, n_train=30, n_eval=10, seed=1)
  first_out = tmp_path / "first"
  driver.main(["--executor-input", json.dumps(_executor_input(idx_dir, first_out))])
  printed = json.loads(capsys.readouterr().out)
  written = json.loads((first_out / "executor_output.json").read_text())["parameterValues"]
  assert written == printed and printed["span"] == 0 and printed["version"] == -1
  assert (first_out / "input_fingerprint").read_text() == printed["input_fingerprint"]
  assert (first_out / "span").read_text() == "0"
  assert printed["input_fingerprint"].startswith("split:train,num_files:2,")

  write_dataset(idx_dir, n_train=31, n_eval=10, seed=2)  # New data, same names.
  second = driver.resolve(idx_dir, _compiled_input_config())
  assert second["input_fingerprint"] != printed["input_fingerprint"]
