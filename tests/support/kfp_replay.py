"""Replays a compiled KFP v2 pipeline spec on this machine, the way the KFP launcher runs it.

For each task, in dependency order: build the ExecutorInput that the launcher
substitutes for `{{$}}` (parameters, input artifacts from the producers'
ExecutorOutput files, output artifacts under the pipeline root, the output
file), run the container's `lifecycle.preCacheCheck` command if it has one
(the ExampleGen driver), then its exact `command` + `args` in a subprocess.
Resolver tasks return no artifact, as on a pipeline's first run on Vertex AI.
"""

import dataclasses
import json
import os
import subprocess
import time
from typing import Any, Dict, List, Tuple

_PARAMETER_KEYS = {"INT": "intValue", "DOUBLE": "doubleValue", "STRING": "stringValue"}


@dataclasses.dataclass
class TaskResult:
  name: str
  kind: str  # "container" or "resolver"
  returncode: int
  seconds: float
  log: str = ""


def dependency_order(tasks: Dict[str, Any]) -> List[str]:
  """Task names such that every task comes after the tasks it depends on."""
  done: List[str] = []
  while len(done) < len(tasks):
    ready = sorted(n for n, t in tasks.items()
                   if n not in done and set(t.get("dependentTasks", [])) <= set(done))
    if not ready:
      raise ValueError(f"dependency cycle among {sorted(set(tasks) - set(done))}")
    done.extend(ready)
  return done


def _parameters(task: Dict[str, Any], root_inputs: Dict[str, Any],
                values: Dict[str, Any]) -> Dict[str, Any]:
  out = {}
  for name, spec in task.get("inputs", {}).get("parameters", {}).items():
    if "componentInputParameter" in spec:
      pipeline_param = spec["componentInputParameter"]
      kind = root_inputs[pipeline_param]["type"]
      out[name] = {_PARAMETER_KEYS[kind]: values[pipeline_param]}
    else:
      out[name] = spec["runtimeValue"]["constantValue"]
  return out


def executor_input(task_name: str, task: Dict[str, Any], component: Dict[str, Any],
                   root_inputs: Dict[str, Any], values: Dict[str, Any],
                   produced: Dict[Tuple[str, str], List[Dict[str, Any]]],
                   pipeline_root: str) -> Dict[str, Any]:
  """The ExecutorInput JSON of one task (what `{{$}}` stands for)."""
  # The launcher gives each input artifact the type the consumer declares for it.
  types = {name: d["artifactType"]
           for name, d in component.get("inputDefinitions", {}).get("artifacts", {}).items()}
  inputs = {name: {"artifacts": [
      {**artifact, "type": types[name]} for artifact in produced[(
          spec["taskOutputArtifact"]["producerTask"],
          spec["taskOutputArtifact"]["outputArtifactKey"])]]}
            for name, spec in task.get("inputs", {}).get("artifacts", {}).items()}
  task_root = os.path.join(pipeline_root, task_name)
  outputs = {key: {"artifacts": [{"name": f"replay/{task_name}/{key}", "type": d["artifactType"],
                                  "uri": os.path.join(task_root, key), "metadata": {}}]}
             for key, d in component.get("outputDefinitions", {}).get("artifacts", {}).items()}
  return {"inputs": {"parameters": _parameters(task, root_inputs, values), "artifacts": inputs},
          "outputs": {"artifacts": outputs,
                      "outputFile": os.path.join(task_root, "executor_output.json")}}


def _run(command: List[str], args: List[str], invocation: str, cwd: str,
         env: Dict[str, str], timeout_s: float) -> Tuple[int, str]:
  argv = command + [invocation if a == "{{$}}" else a for a in args]
  proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                        timeout=timeout_s)
  return proc.returncode, proc.stdout + proc.stderr


def replay(spec: Dict[str, Any], values: Dict[str, Any], pipeline_root: str, cwd: str,
           env: Dict[str, str], timeout_s: float = 600) -> List[TaskResult]:
  """Runs every task of `spec`; stops at the first that fails. Returns each task's result."""
  tasks = spec["root"]["dag"]["tasks"]
  root_inputs = spec["root"].get("inputDefinitions", {}).get("parameters", {})
  executors = spec["deploymentSpec"]["executors"]
  produced: Dict[Tuple[str, str], List[Dict[str, Any]]] = {}
  results: List[TaskResult] = []
  for name in dependency_order(tasks):
    component = spec["components"][tasks[name]["componentRef"]["name"]]
    executor = executors[component["executorLabel"]]
    start = time.monotonic()
    if "resolver" in executor:
      for key in component.get("outputDefinitions", {}).get("artifacts", {}):
        produced[(name, key)] = []
      results.append(TaskResult(name, "resolver", 0, time.monotonic() - start))
      continue
    invocation = executor_input(name, tasks[name], component, root_inputs, values, produced,
                                pipeline_root)
    os.makedirs(os.path.dirname(invocation["outputs"]["outputFile"]), exist_ok=True)
    container = executor["container"]
    log = ""
    steps = [container["lifecycle"]["preCacheCheck"]] if "lifecycle" in container else []
    for step in steps + [container]:
      returncode, out = _run(step["command"], step["args"], json.dumps(invocation), cwd, env,
                             timeout_s)
      log += out
      if returncode:
        break
    results.append(TaskResult(name, "container", returncode, time.monotonic() - start, log))
    if returncode:
      return results
    with open(invocation["outputs"]["outputFile"]) as f:
      written = json.load(f).get("artifacts", {})
    for key in invocation["outputs"]["artifacts"]:
      produced[(name, key)] = written.get(key, {}).get("artifacts", [])
  return results
