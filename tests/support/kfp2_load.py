"""Loads a compiled pipeline (or component) YAML with the real Kubeflow Pipelines 2.x SDK.

Run with the kfp 2 venv that `make venv` builds (not the project's .venv: TFX 1.15 pins kfp < 2):

  .venv-kfp2/bin/python tests/support/kfp2_load.py FILE [--no-round-trip]

Prints one JSON line: kfp's version, the spec's schema and SDK versions, the component's name,
its inputs and their kfp types (with defaults), its outputs, the root DAG's tasks, and the
executors' images. Then, unless --no-round-trip, recompiles what it loaded with kfp.compiler and
loads that again: `round_trip` is true when the second PipelineSpec equals the first (as protos,
so a `false` that protobuf drops as the default still compares equal).
Exits 1 with one line on stderr when kfp cannot load the file or the round trip fails.

Imports nothing from the project: it runs where only kfp is installed.
"""

import argparse
import json
import os
import sys
import tempfile


def describe(path: str, round_trip: bool) -> dict:
  import kfp
  from google.protobuf import json_format
  from kfp import compiler, components

  # Leading `#` comment lines are fine: kfp parses the file with PyYAML.
  component = components.load_component_from_file(path)
  spec = component.component_spec
  pipeline_spec = component.pipeline_spec
  root = pipeline_spec.root
  tasks = sorted(root.dag.tasks) if root.HasField("dag") else []
  executors = json_format.MessageToDict(pipeline_spec.deployment_spec).get("executors", {})
  found = {
      "kfp": kfp.__version__,
      "schema_version": pipeline_spec.schema_version,
      "sdk_version": pipeline_spec.sdk_version,
      "name": spec.name,
      "inputs": {name: value.type for name, value in sorted((spec.inputs or {}).items())},
      "defaults": {name: value.default for name, value in sorted((spec.inputs or {}).items())
                   if value.default is not None},
      "outputs": {name: value.type for name, value in sorted((spec.outputs or {}).items())},
      "num_tasks": len(tasks),
      "tasks": tasks,
      "images": sorted({executor["container"]["image"] for executor in executors.values()
                        if "container" in executor}),
  }
  if round_trip:
    with tempfile.TemporaryDirectory() as tmp:
      recompiled = os.path.join(tmp, "recompiled.yaml")
      compiler.Compiler().compile(component, recompiled)
      again = components.load_component_from_file(recompiled)
    found["round_trip"] = again.pipeline_spec == pipeline_spec
  return found


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("file")
  parser.add_argument("--no-round-trip", dest="round_trip", action="store_false",
                      help="only load the file; do not recompile it with kfp.compiler")
  args = parser.parse_args(argv)
  try:
    import kfp
    version = kfp.__version__
  except ImportError:
    version = None
  if version is None or int(version.split(".")[0]) != 2:
    print(f"kfp2_load: needs kfp 2.x; {sys.executable} has {f'kfp {version}' if version else 'no kfp'}"
          " (run `make venv`, then use .venv-kfp2/bin/python)", file=sys.stderr)
    return 1
  try:
    found = describe(args.file, args.round_trip)
  except Exception as e:  # one line, whatever kfp raises (KeyError, ValueError, ...)
    print(f"kfp2_load: {args.file}: kfp {version} cannot load it: {type(e).__name__}: {e}"
          .replace("\n", " "), file=sys.stderr)
    return 1
  print(json.dumps(found, sort_keys=True))
  if found.get("round_trip") is False:
    print(f"kfp2_load: {args.file}: recompiled with kfp.compiler, it is a different PipelineSpec",
          file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
