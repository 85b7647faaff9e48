"""Post-processing of TFX's KFP v2 spec, so open-source KFP 2.x runs it as Vertex AI does.

TFX 1.15's KubeflowV2DagRunner writes a spec for Vertex AI. Two of its steps rely on
what only Vertex implements:
- FileBasedExampleGen's driver sits in `lifecycle.preCacheCheck`, which KFP 2.x's
  driver parses and never runs: here it becomes a task of its own
  (components/example_gen_driver.py), whose span, version and fingerprint reach
  ExampleGen as parameters, and so its cache key, on both backends;
- ServedBaseline's driver (the served version in the cache key) runs only under
  TFX's own launcher: here the task runs uncached.
"""

import copy
from typing import Any, Dict

EXAMPLE_GEN = "FileBasedExampleGen"
DRIVER = "ExampleGenDriver"
BASELINE = "ServedBaseline"
DRIVER_MODULE = "components.example_gen_driver"


def _driver_component(example_gen: Dict[str, Any]) -> Dict[str, Any]:
  """The driver task's component: ExampleGen's input base and config in, the resolved
  span, version, fingerprint and config out."""
  from components.example_gen_driver import INPUT_BASE, INPUT_CONFIG, OUTPUTS
  inputs = example_gen["inputDefinitions"]["parameters"]
  return {"executorLabel": f"{DRIVER}_executor",
          "inputDefinitions": {"parameters": {k: copy.deepcopy(inputs[k])
                                              for k in (INPUT_BASE, INPUT_CONFIG)}},
          "outputDefinitions": {"parameters": {name: {"parameterType": kind}
                                               for name, kind in OUTPUTS.items()}}}


def split_example_gen_driver(spec: Dict[str, Any]) -> None:
  """Moves ExampleGen's preCacheCheck into an uncached `ExampleGenDriver` task, in place."""
  from components.example_gen_driver import INPUT_BASE, INPUT_CONFIG, OUTPUTS
  components, tasks = spec["components"], spec["root"]["dag"]["tasks"]
  executors = spec["deploymentSpec"]["executors"]
  example_gen = components[EXAMPLE_GEN]
  container = executors[example_gen["executorLabel"]]["container"]
  container.pop("lifecycle", None)
  components[DRIVER] = _driver_component(example_gen)
  executors[f"{DRIVER}_executor"] = {"container": {
      "image": container["image"], "command": ["python", "-m", DRIVER_MODULE],
      "args": ["--executor-input", "{{$}}"],
      "resources": {"cpuLimit": 1.0, "memoryLimit": 1.074}}}
  gen_task = tasks[EXAMPLE_GEN]
  tasks[DRIVER] = {
      "taskInfo": {"name": DRIVER}, "componentRef": {"name": DRIVER},
      "cachingOptions": {"enableCache": False},  # It must look at the data every run.
      "inputs": {"parameters": {k: copy.deepcopy(gen_task["inputs"]["parameters"][k])
                                for k in (INPUT_BASE, INPUT_CONFIG)}}}
  for name, kind in OUTPUTS.items():
    example_gen["inputDefinitions"]["parameters"][name] = {"parameterType": kind}
    gen_task["inputs"]["parameters"][name] = {"taskOutputParameter": {
        "producerTask": DRIVER, "outputParameterKey": name}}
  gen_task["dependentTasks"] = sorted(set(gen_task.get("dependentTasks", [])) | {DRIVER})


def for_both_backends(spec: Dict[str, Any]) -> Dict[str, Any]:
  """`spec` made runnable on open-source KFP 2.x as on Vertex AI (see the module doc)."""
  split_example_gen_driver(spec)
  spec["root"]["dag"]["tasks"][BASELINE]["cachingOptions"] = {"enableCache": False}
  return spec
