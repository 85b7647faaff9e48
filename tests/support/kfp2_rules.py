"""Static check of a compiled KFP PipelineSpec (pipeline.yaml) against the open-source Kubeflow Pipelines
2.x backend: `python -m tests.support.kfp2_rules FILE...` prints each violation and a count per rule.

Every rule cites the backend source that enforces it, in kubeflow/pipelines at `PINNED`. The checks of the
spec's structure and artifact types are in `tests.support.kfp2_spec_checks`; those of parameters (the
driver's input resolution), containers and storage are here.
"""

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Callable, List, NamedTuple, Optional, Sequence, Union

import yaml

from tests.support import kfp2_spec_checks as sc
from tests.support.kfp2_spec_checks import (PARAMETER_TYPES, Found, accepts, all_defs, as_map, component_of,
                                            containers, defs, executors, placeholders, ptype, sibling,
                                            task_inputs, tasks, value_type)

PINNED = "7b70c7b95f6832772efd6fd0029a4024491a0f44"
_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$")
_CHANNEL = re.compile(r"\$.inputs.parameters\['(.+?)'\]")  # backend/src/v2/driver/util.go:41


class Rule(NamedTuple):
  id: str
  description: str
  citation: str  # backend/src/...go:FIRST-LAST at PINNED
  check: Callable[[dict], Found]


class Violation(NamedTuple):
  rule: str
  location: str  # dotted path in the spec, e.g. components.Evaluator.inputDefinitions.parameters.x
  message: str

  def __str__(self) -> str:
    return f"[{self.rule}] {self.location}: {self.message}"


def check_component_inputs(spec: dict) -> Found:
  """componentInputParameter/Artifact names an input of the enclosing DAG component."""
  for kind, key in (("parameters", "componentInputParameter"), ("artifacts", "componentInputArtifact")):
    for loc, dag, _, _, inp in task_inputs(spec, kind):
      if key in inp and inp[key] not in defs(dag, "inputDefinitions", kind):
        yield f"{loc}.{key}", f"{inp[key]!r} is not an input of the enclosing DAG"


def check_required_inputs(spec: dict) -> Found:
  """A task gives every input parameter that is neither optional nor defaulted."""
  for loc, _, task in tasks(spec):
    given = as_map(as_map(task.get("inputs")).get("parameters"))
    item = as_map(task.get("parameterIterator")).get("itemInput")
    for name, pdef in defs(component_of(spec, task), "inputDefinitions", "parameters").items():
      optional = as_map(pdef).get("isOptional") or "defaultValue" in as_map(pdef)
      if name not in given and name != item and not optional:
        yield f"{loc}.inputs.parameters.{name}", "is required (not optional, no default) but not given"


def check_parameter_type(spec: dict) -> Found:
  """Every parameter definition has a valid parameterType and no legacy `type`."""
  for loc, pdef in all_defs(spec, "parameters"):
    if "type" in pdef:
      yield f"{loc}.type", "is the legacy PrimitiveType field; the backend reads only parameterType"
    if pdef.get("parameterType") not in PARAMETER_TYPES:
      yield f"{loc}.parameterType", f"{pdef.get('parameterType')!r} is missing or not a ParameterType"


def check_runtime_constant(spec: dict) -> Found:
  """A task's runtimeValue is a `constant`, not the old constantValue or a runtimeParameter."""
  for loc, _, _, _, inp in task_inputs(spec, "parameters"):
    if "runtimeValue" in inp and list(as_map(inp["runtimeValue"])) != ["constant"]:
      fields = sorted(as_map(inp["runtimeValue"]))
      yield f"{loc}.runtimeValue", f"uses {fields}; the driver reads only constant"


def check_constant_type(spec: dict) -> Found:
  """A runtimeValue.constant's value kind fits the parameterType of the input it feeds."""
  for loc, _, task, name, inp in task_inputs(spec, "parameters"):
    dest, value = ptype(component_of(spec, task), "inputDefinitions", name), as_map(inp.get("runtimeValue"))
    if "constant" in value and dest in PARAMETER_TYPES and not accepts(dest, value_type(value["constant"])):
      yield f"{loc}.runtimeValue.constant", f"is a {value_type(value['constant'])} for a {dest} parameter"


def check_input_type_flow(spec: dict) -> Found:
  """A parameter passed on from a DAG input or an upstream output has a type the input accepts."""
  for loc, dag, task, name, inp in task_inputs(spec, "parameters"):
    dest = ptype(component_of(spec, task), "inputDefinitions", name)
    src = ptype(dag, "inputDefinitions", inp.get("componentInputParameter"))
    if "taskOutputParameter" in inp:
      ref = as_map(inp["taskOutputParameter"])
      producer = component_of(spec, sibling(dag, ref.get("producerTask")))
      src = ptype(producer, "outputDefinitions", ref.get("outputParameterKey"))
    if dest in PARAMETER_TYPES and src in PARAMETER_TYPES and not accepts(dest, src):
      yield loc, f"passes a {src} parameter into a {dest} one: the driver fails with a type mismatch"


def check_pre_cache_check(spec: dict) -> Found:
  """No container has a lifecycle (preCacheCheck) hook: nothing in the backend runs it."""
  for loc, _, container in containers(spec):
    if as_map(container.get("lifecycle")):
      yield f"{loc}.lifecycle", "preCacheCheck is parsed but never run: the pod runs only command and args"


def check_pipeline_root(spec: dict) -> Found:
  """defaultPipelineRoot, if present, is gs://, s3:// or minio:// with a bucket."""
  root = spec.get("defaultPipelineRoot")
  if root is not None and not re.match(r"^(gs|s3|minio)://[^/?]+", str(root)):
    yield "defaultPipelineRoot", f"{root!r}: the backend stores artifacts only under gs://, s3://, minio://"


def check_placeholder_params(spec: dict) -> Found:
  """Every {{$.inputs.parameters['x']}} in a container names an input parameter."""
  for loc, comp, side, kind, name in placeholders(spec):
    if (side, kind) == ("inputs", "parameters") and name not in defs(comp, "inputDefinitions", kind):
      yield loc, f"placeholder inputs.parameters['{name}'] names no input parameter of the component"


def check_placeholder_other(spec: dict) -> Found:
  """Every inputs.artifacts/outputs.* placeholder in a container names a declared input/output."""
  for loc, comp, side, kind, name in placeholders(spec):
    if (side, kind) != ("inputs", "parameters") and name not in defs(comp, f"{side[:-1]}Definitions", kind):
      yield loc, f"placeholder {side}.{kind}['{name}'] is not declared; it is passed on literally"


def check_resources(spec: dict) -> Found:
  """Resource strings are Kubernetes quantities; an accelerator has both a type and a count."""
  for loc, _, container in containers(spec):
    res = as_map(container.get("resources"))
    for key in ("resourceCpuLimit", "resourceCpuRequest", "resourceMemoryLimit", "resourceMemoryRequest"):
      if key in res and not (_QUANTITY.match(str(res[key])) or _CHANNEL.search(str(res[key]))):
        yield f"{loc}.resources.{key}", f"{res[key]!r} is not a Kubernetes quantity"
    acc = as_map(res.get("accelerator"))
    if acc and not ({"resourceType", "type"} & set(acc) and {"resourceCount", "count"} & set(acc)):
      yield f"{loc}.resources.accelerator", "needs a type and a count, else no accelerator limit is set"


def check_importer_uri(spec: dict) -> Found:
  """An importer's artifactUri is a non-empty constant string or a runtimeParameter."""
  for label, ex in executors(spec).items():
    uri = as_map(as_map(as_map(ex).get("importer")).get("artifactUri"))
    if "importer" in as_map(ex) and not (isinstance(uri.get("constant"), str) and uri["constant"]
                                     or uri.get("runtimeParameter")):
      yield f"deploymentSpec.executors.{label}.importer.artifactUri", "needs constant or runtimeParameter"


_T, _V2 = "backend/src/apiserver/template/v2_template.go", "backend/src/v2"
RULES: List[Rule] = [
    Rule("schema-version", "schemaVersion is 2.1.0, the only one the API server accepts",
         f"{_T}:234-236", sc.check_schema_version),
    Rule("pipeline-info", "pipelineInfo.name is set (and matches the name pattern); root is present",
         f"{_T}:237-246", sc.check_pipeline_info),
    Rule("known-fields", "spec, components and tasks use only proto fields (strict protojson.Unmarshal)",
         f"{_T}:225-233", sc.check_known_fields),
    Rule("executor-kind", "every executor is container or importer (resolver, customJob: not implemented)",
         f"{_V2}/compiler/visitor.go:125-134", sc.check_executor_kind),
    Rule("component-impl", "every component has one of dag/executorLabel; the label is an executor",
         f"{_V2}/compiler/visitor.go:105-139", sc.check_component_impl),
    Rule("component-ref", "every task's componentRef.name is a key of components",
         f"{_V2}/compiler/visitor.go:155-162", sc.check_component_ref),
    Rule("task-name", "every task has taskInfo.name (validateNonRoot of the container and DAG drivers)",
         f"{_V2}/driver/driver.go:720-722", sc.check_task_name),
    Rule("task-refs", "dependentTasks and producerTask name tasks of the same DAG",
         f"{_V2}/compiler/argocompiler/dag.go:655-726", sc.check_task_refs),
    Rule("output-keys", "outputParameterKey/outputArtifactKey are outputs of the producer's component",
         f"{_V2}/driver/resolve.go:686-691", sc.check_output_keys),
    Rule("container-hash", "components with an identical container have identical specs (one is kept)",
         f"{_V2}/compiler/argocompiler/argo.go:439-508", sc.check_container_hash),
    Rule("artifact-iterator", "no task uses artifactIterator (not implemented)",
         f"{_V2}/compiler/argocompiler/dag.go:65-70", sc.check_artifact_iterator),
    Rule("component-inputs", "componentInputParameter/Artifact is an input of the enclosing DAG",
         f"{_V2}/driver/resolve.go:389-397", check_component_inputs),
    Rule("required-inputs", "a task gives every non-optional input parameter that has no default",
         f"{_V2}/driver/resolve.go:184-193", check_required_inputs),
    Rule("parameter-type", "every parameter definition has parameterType and no legacy `type`",
         f"{_V2}/driver/resolve.go:202-253", check_parameter_type),
    Rule("runtime-constant", "a task's constant inputs use runtimeValue.constant, not constantValue",
         f"{_V2}/driver/resolve.go:422-457", check_runtime_constant),
    Rule("constant-type", "a runtimeValue.constant's value kind fits the input's parameterType",
         f"{_V2}/driver/resolve.go:202-253", check_constant_type),
    Rule("input-type-flow", "a parameter passed from a DAG input or upstream output fits the input's type",
         f"{_V2}/driver/resolve.go:202-253", check_input_type_flow),
    Rule("no-pre-cache-check", "no lifecycle.preCacheCheck: the pod runs command+args only, never the hook",
         f"{_V2}/driver/driver.go:309-349", check_pre_cache_check),
    Rule("artifact-type", "artifact definitions and importers have schemaTitle or instanceSchema",
         f"{_V2}/component/launcher_v2.go:1175-1186", sc.check_artifact_type),
    Rule("instance-schema-title", "an instanceSchema is YAML with a `title` (the MLMD type name)",
         f"{_V2}/metadata/client.go:1199-1211", sc.check_instance_schema),
    Rule("reserved-output", "no output artifact is called executor-logs (the launcher's log artifact)",
         f"{_V2}/driver/driver.go:747-760", sc.check_reserved_output),
    Rule("pipeline-root", "defaultPipelineRoot (if present) is gs://, s3:// or minio://BUCKET",
         f"{_V2}/component/launcher_v2.go:1239-1253", check_pipeline_root),
    Rule("placeholder-params", "{{$.inputs.parameters['x']}} in a container names an input parameter",
         f"{_V2}/driver/util.go:168-179", check_placeholder_params),
    Rule("placeholder-other", "artifact and output placeholders in a container name declared ones",
         f"{_V2}/component/launcher_v2.go:1077-1173", check_placeholder_other),
    Rule("resources", "resource strings are Kubernetes quantities; an accelerator has type and count",
         f"{_V2}/driver/driver.go:172-199", check_resources),
    Rule("importer-uri", "an importer's artifactUri is a non-empty constant or a runtimeParameter",
         f"{_V2}/component/importer_launcher.go:203-241", check_importer_uri),
]


def check(spec: dict) -> List[Violation]:
  """Every violation of every rule in `spec`, a parsed PipelineSpec, in rule order."""
  spec = as_map(spec)
  return [Violation(rule.id, loc, msg) for rule in RULES for loc, msg in rule.check(spec)]


def load(path: Union[str, Path]) -> dict:
  """The PipelineSpec document of a compiled file: leading `#` lines skipped; in a multi-document file
  (spec plus platform spec, as v2_template.go:199-264 reads them) the one with pipelineInfo or root."""
  lines = Path(path).read_text().splitlines(keepends=True)
  while lines and lines[0].lstrip().startswith("#"):
    lines.pop(0)
  docs = [as_map(d) for d in yaml.safe_load_all("".join(lines)) if d is not None]
  return next((d for d in docs if {"pipelineInfo", "root"} & set(d)), docs[0] if docs else {})


def check_file(path: Union[str, Path]) -> List[Violation]:
  """`check` of the compiled pipeline file at `path`."""
  return check(load(path))


def main(argv: Optional[Sequence[str]] = None) -> int:
  """CLI: each violation on a line, then a count per rule; status 1 when there are any."""
  paths = sys.argv[1:] if argv is None else list(argv)
  if not paths:
    print("usage: python -m tests.support.kfp2_rules FILE...", file=sys.stderr)
    return 2
  counts: Counter = Counter()
  for path in paths:
    for violation in check_file(path):
      print(f"{path}: {violation}")
      counts[violation.rule] += 1
  print(f"{sum(counts.values())} violation(s) of {len(RULES)} rules, kubeflow/pipelines@{PINNED[:12]}")
  for rule in RULES:
    print(f"  {rule.id:<22} {counts[rule.id]:>3}  {rule.citation}")
  return 1 if counts else 0


if __name__ == "__main__":
  sys.exit(main())
