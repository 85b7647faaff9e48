"""ExampleGen's driver as a container task of its own, for KFP v2 backends.

TFX compiles FileBasedExampleGen's driver into the executor's
`lifecycle.preCacheCheck`, which Vertex AI runs and open-source Kubeflow
Pipelines 2.x parses and never runs. Without it, a change in the data would not
change ExampleGen's cache key on KFP 2.x. So `pipeline.yaml` runs this module as an
uncached task before ExampleGen (pipeline/runners/kubeflow.py): it computes the
span, version and input fingerprint exactly as TFX's driver does (TFX's
FileBasedInputProcessor) and passes them as parameters, which both backends put in
ExampleGen's cache key.

  python -m components.example_gen_driver --executor-input '{{$}}'

The outputs are written both ways the backends read them: the ExecutorOutput JSON
at `outputs.outputFile` (`parameterValues`), and each parameter's own `outputFile`.
"""

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional

from tfx.components.example_gen import input_processor
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.utils import proto_utils

SPAN, VERSION, FINGERPRINT, INPUT_CONFIG = "span", "version", "input_fingerprint", "input_config"
INPUT_BASE = "input_base"
# Parameter name -> its KFP type, as the compiled spec declares the task's outputs.
OUTPUTS = {SPAN: "NUMBER_INTEGER", VERSION: "NUMBER_INTEGER", FINGERPRINT: "STRING",
           INPUT_CONFIG: "STRING"}


def resolve(input_base: str, input_config_json: str) -> Dict[str, Any]:
  """Span, version (-1 for none), fingerprint and the span-resolved input config of the data
  under `input_base`, as TFX's file-based ExampleGen driver computes them."""
  config = example_gen_pb2.Input()
  proto_utils.json_to_proto(input_config_json, config)
  processor = input_processor.FileBasedInputProcessor(input_base, config.splits, None)
  span, version = processor.resolve_span_and_version()
  fingerprint = processor.get_input_fingerprint(span, version)
  for split in config.splits:
    split.pattern = processor.get_pattern_for_span_version(split.pattern, span, version)
  return {SPAN: int(span), VERSION: -1 if version is None else int(version),
          FINGERPRINT: fingerprint, INPUT_CONFIG: proto_utils.proto_to_json(config)}


def _write(path: str, text: str) -> None:
  parent = os.path.dirname(path)
  if parent:
    fileio.makedirs(parent)
  with fileio.open(path, "w") as f:
    f.write(text)


def write_outputs(executor_input: Dict[str, Any], values: Dict[str, Any]) -> None:
  """Writes `values` where KFP's launcher and Vertex AI read a task's output parameters."""
  outputs = executor_input.get("outputs", {})
  for name, where in outputs.get("parameters", {}).items():
    if where.get("outputFile") and name in values:
      value = values[name]
      _write(where["outputFile"], value if isinstance(value, str) else json.dumps(value))
  if outputs.get("outputFile"):
    _write(outputs["outputFile"], json.dumps({"parameterValues": values}, sort_keys=True))


def main(argv: Optional[List[str]] = None) -> None:
  """Reads the executor input, resolves the data, writes the outputs, prints them."""
  parser = argparse.ArgumentParser(prog="python -m components.example_gen_driver",
                                   description=__doc__.split("\n\n")[0])
  parser.add_argument("--executor-input", required=True,
                      help="the task's executor input, as KFP's {{$}} placeholder gives it")
  args = parser.parse_args(argv)
  executor_input = json.loads(args.executor_input)
  inputs = executor_input.get("inputs", {}).get("parameterValues", {})
  for name in (INPUT_BASE, INPUT_CONFIG):
    if not inputs.get(name):
      sys.exit(f"error: the executor input has no {name} parameter")
  values = resolve(inputs[INPUT_BASE], inputs[INPUT_CONFIG])
  write_outputs(executor_input, values)
  print(json.dumps(values, sort_keys=True))


if __name__ == "__main__":
  from trainer_module.shutdown import run_program
  from pipeline.data.s3 import enable_s3
  enable_s3(sys.argv[1:])
  run_program(main)
