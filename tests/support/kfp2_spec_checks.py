"""Walking a compiled KFP PipelineSpec, and the checks of its structure (API server, backend compiler) and
of its artifact types (launcher, MLMD); each check yields (location, message). The other checks, the rule
table with its sources and the CLI are in `tests.support.kfp2_rules`. Pure Python on what `yaml.safe_load`
gives; a check skips what another rule reports (a task whose component is missing, say).
"""

import json
import re
from typing import Any, Dict, Iterator, Tuple

import yaml

Found = Iterator[Tuple[str, str]]
PARAMETER_TYPES = {"NUMBER_DOUBLE", "NUMBER_INTEGER", "STRING", "BOOLEAN", "LIST", "STRUCT",
                   "TASK_FINAL_STATUS", "TASK_CONFIG"}
_PLACEHOLDER = re.compile(r"\{\{\$\.(inputs|outputs)\.(artifacts|parameters)\['(.+?)'\]")
_FIELDS = {  # of the messages protojson parses strictly, from api/v2alpha1/pipeline_spec.proto
    "spec": "pipelineInfo deploymentSpec sdkVersion schemaVersion components root defaultPipelineRoot",
    "component": "inputDefinitions outputDefinitions dag executorLabel singlePlatformSpecs "
                 "taskConfigPassthroughs",
    "task": "taskInfo inputs dependentTasks cachingOptions componentRef triggerPolicy artifactIterator "
            "parameterIterator retryPolicy iteratorPolicy"}
_OUTPUT_REFS = (("parameters", "taskOutputParameter", "outputParameterKey"),
                ("artifacts", "taskOutputArtifact", "outputArtifactKey"))


def as_map(value: Any) -> Dict[str, Any]:
  """`value` if it is a mapping, else an empty one (a missing or malformed section)."""
  return value if isinstance(value, dict) else {}


def _known(kind: str) -> set:
  """The names protojson accepts for a message's fields: lowerCamelCase and snake_case."""
  names = _FIELDS[kind].split()
  return set(names) | {re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), n) for n in names}


def components(spec: dict) -> Iterator[Tuple[str, dict]]:
  """(location, component) for `root` and every entry of `components`."""
  yield "root", as_map(spec.get("root"))
  yield from ((f"components.{n}", as_map(c)) for n, c in as_map(spec.get("components")).items())


def tasks(spec: dict) -> Iterator[Tuple[str, dict, dict]]:
  """(location, task map of the enclosing DAG, task) for every task of every DAG."""
  for loc, comp in components(spec):
    dag_tasks = as_map(as_map(comp.get("dag")).get("tasks"))
    yield from ((f"{loc}.dag.tasks.{n}", comp, as_map(t)) for n, t in dag_tasks.items())


def task_inputs(spec: dict, kind: str) -> Iterator[Tuple[str, dict, dict, str, dict]]:
  """(location, enclosing DAG component, task, name, input spec) of tasks' parameters/artifacts."""
  for loc, dag, task in tasks(spec):
    for name, inp in as_map(as_map(task.get("inputs")).get(kind)).items():
      yield f"{loc}.inputs.{kind}.{name}", dag, task, name, as_map(inp)


def executors(spec: dict) -> Dict[str, Any]:
  """deploymentSpec.executors: executor label -> ExecutorSpec."""
  return as_map(as_map(spec.get("deploymentSpec")).get("executors"))


def component_of(spec: dict, task: dict) -> dict:
  """The component a task's componentRef names (empty when it names none)."""
  return as_map(as_map(spec.get("components")).get(as_map(task.get("componentRef")).get("name")))


def sibling(dag: dict, name: Any) -> dict:
  """The task called `name` in DAG component `dag` (empty when there is none)."""
  return as_map(as_map(as_map(dag.get("dag")).get("tasks")).get(name))


def defs(comp: dict, side: str, kind: str) -> Dict[str, Any]:
  """A component's `inputDefinitions`/`outputDefinitions` `parameters`/`artifacts` map."""
  return as_map(as_map(comp.get(side)).get(kind))


def all_defs(spec: dict, kind: str) -> Iterator[Tuple[str, dict]]:
  """(location, definition) of every input and output definition of `kind`, root's included."""
  for loc, comp in components(spec):
    for side in ("inputDefinitions", "outputDefinitions"):
      yield from ((f"{loc}.{side}.{kind}.{n}", as_map(x)) for n, x in defs(comp, side, kind).items())


def ptype(comp: dict, side: str, name: Any) -> Any:
  """The parameterType of parameter `name` in a component's input or output definitions."""
  return as_map(defs(comp, side, "parameters").get(name)).get("parameterType")


def value_type(value: Any) -> str:
  """The ParameterType a constant's protobuf Value kind satisfies."""
  if isinstance(value, bool):
    return "BOOLEAN"
  if isinstance(value, (int, float)):
    return "NUMBER_DOUBLE"
  return {str: "STRING", list: "LIST", dict: "STRUCT"}.get(type(value), "NULL")


def accepts(dest: str, src: str) -> bool:
  """Whether the driver's input type check lets a `src` value into a `dest` parameter."""
  numbers, structs = {"NUMBER_DOUBLE", "NUMBER_INTEGER"}, {"STRUCT", "TASK_FINAL_STATUS", "TASK_CONFIG"}
  if dest == "STRING":
    return True  # anything is converted to its JSON text, null to ""
  return src == dest or {src, dest} <= numbers or (dest in structs and src == "STRUCT")


def containers(spec: dict) -> Iterator[Tuple[str, dict, dict]]:
  """(location, component, container spec) of every component run by a container executor."""
  for _, comp in components(spec):
    container = as_map(executors(spec).get(comp.get("executorLabel"))).get("container")
    if isinstance(container, dict):
      yield f"deploymentSpec.executors.{comp['executorLabel']}.container", comp, container


def placeholders(spec: dict) -> Iterator[Tuple[str, dict, str, str, str]]:
  """(location, component, inputs|outputs, artifacts|parameters, name) of `{{$.…['name']` uses."""
  for loc, comp, c in containers(spec):
    texts = [s for s in (c.get("command") or []) + (c.get("args") or []) + [c.get("image")]
             if isinstance(s, str)]
    yield from ((loc, comp, *m) for s in texts for m in _PLACEHOLDER.findall(s))


def check_schema_version(spec: dict) -> Found:
  """schemaVersion is exactly 2.1.0."""
  if spec.get("schemaVersion") != "2.1.0":
    yield "schemaVersion", f"is {spec.get('schemaVersion')!r}; the API server accepts only '2.1.0'"


def check_pipeline_info(spec: dict) -> Found:
  """pipelineInfo.name has a lower-case alphanumeric character, and there is a root."""
  name = as_map(spec.get("pipelineInfo")).get("name")
  if not isinstance(name, str) or not re.search(r"[a-z0-9]", name):
    yield "pipelineInfo.name", f"{name!r} is empty or has no lower-case alphanumeric character"
  if "root" not in spec:
    yield "root", "is missing: the API server rejects a spec without a root component"


def check_known_fields(spec: dict) -> Found:
  """The spec, its components and tasks have only fields of their proto messages."""
  parts = [("", "spec", spec)] + [(f"{loc}.", "component", c) for loc, c in components(spec)]
  for prefix, kind, message in parts + [(f"{loc}.", "task", t) for loc, _, t in tasks(spec)]:
    for key in sorted(set(message) - _known(kind)):
      yield prefix + key, "is not a field of the proto message; protojson rejects the upload"


def check_executor_kind(spec: dict) -> Found:
  """Every executor is a container or an importer."""
  for label, ex in executors(spec).items():
    if sorted(as_map(ex)) not in (["container"], ["importer"]):
      yield f"deploymentSpec.executors.{label}", f"kind {sorted(as_map(ex))} is not implemented"


def check_component_impl(spec: dict) -> Found:
  """Every component has a dag or an executorLabel (not both), and the label is an executor."""
  for loc, comp in components(spec):
    label = comp.get("executorLabel")
    if ("dag" in comp) == bool(label):
      yield loc, "needs exactly one of dag and executorLabel"
    elif label and label not in executors(spec):
      yield f"{loc}.executorLabel", f"{label!r} is not in deploymentSpec.executors"


def check_component_ref(spec: dict) -> Found:
  """Every task's componentRef.name is a key of components."""
  for loc, _, task in tasks(spec):
    ref = as_map(task.get("componentRef")).get("name")
    if not ref or ref not in as_map(spec.get("components")):
      yield f"{loc}.componentRef.name", f"{ref!r} is not in components"


def check_task_name(spec: dict) -> Found:
  """Every task has a taskInfo.name."""
  for loc, _, task in tasks(spec):
    if not as_map(task.get("taskInfo")).get("name"):
      yield f"{loc}.taskInfo.name", "is empty; the container and DAG drivers refuse such a task"


def check_output_keys(spec: dict) -> Found:
  """An upstream output a task reads is declared in the producer's outputDefinitions."""
  for kind, key, out in _OUTPUT_REFS:
    for loc, dag, _, _, inp in task_inputs(spec, kind):
      ref = as_map(inp.get(key))
      producer = sibling(dag, ref.get("producerTask"))
      if producer and ref.get(out) not in defs(component_of(spec, producer), "outputDefinitions", kind):
        yield f"{loc}.{key}.{out}", f"{ref.get(out)!r} is not an output of the producer's component"


def check_task_refs(spec: dict) -> Found:
  """dependentTasks and every producerTask name a task of the same DAG."""
  for loc, dag, task in tasks(spec):
    for dep in task.get("dependentTasks") or []:
      if not sibling(dag, dep):
        yield f"{loc}.dependentTasks", f"{dep!r} is not a task of this DAG"
  for kind in ("parameters", "artifacts"):
    for loc, dag, _, _, inp in task_inputs(spec, kind):
      for key in ("taskOutputParameter", "taskOutputArtifact", "taskFinalStatus"):
        if key in inp and not sibling(dag, as_map(inp[key]).get("producerTask")):
          yield f"{loc}.{key}.producerTask", f"{as_map(inp[key]).get('producerTask')!r} is not a task here"


def check_container_hash(spec: dict) -> Found:
  """Components sharing an identical container spec have identical component specs."""
  first: Dict[str, Tuple[str, dict]] = {}
  for loc, comp, container in containers(spec):
    other_loc, other = first.setdefault(json.dumps(container, sort_keys=True), (loc, comp))
    if {**other, "executorLabel": ""} != {**comp, "executorLabel": ""}:
      yield loc, f"has {other_loc}'s exact container but another component spec; one spec is kept for both"


def check_artifact_iterator(spec: dict) -> Found:
  """No task uses an artifactIterator."""
  for loc, _, task in tasks(spec):
    if "artifactIterator" in task:
      yield f"{loc}.artifactIterator", "is not implemented by the backend compiler"


def check_artifact_type(spec: dict) -> Found:
  """Artifact definitions and importers have a schemaTitle or an instanceSchema."""
  types = [(f"{loc}.artifactType", a.get("artifactType")) for loc, a in all_defs(spec, "artifacts")]
  for label, ex in executors(spec).items():
    if "importer" in as_map(ex):
      importer = as_map(as_map(ex)["importer"])
      types.append((f"deploymentSpec.executors.{label}.importer.typeSchema", importer.get("typeSchema")))
  for loc, schema in types:
    if not (as_map(schema).get("schemaTitle") or as_map(schema).get("instanceSchema")):
      yield loc, "needs schemaTitle or instanceSchema (schemaUri is unsupported)"


def check_instance_schema(spec: dict) -> Found:
  """Every instanceSchema is YAML with a `title`, from which MLMD's artifact type is named."""
  for loc, adef in all_defs(spec, "artifacts"):
    text = as_map(adef.get("artifactType")).get("instanceSchema")
    try:
      title = as_map(yaml.safe_load(text)).get("title") if isinstance(text, str) else "n/a"
    except yaml.YAMLError:
      title = None
    if not title:
      yield f"{loc}.artifactType.instanceSchema", "has no YAML `title:`; the launcher exits (glog.Fatal)"


def check_reserved_output(spec: dict) -> Found:
  """No component declares an output artifact called executor-logs."""
  for loc, comp in components(spec):
    if "executor-logs" in defs(comp, "outputDefinitions", "artifacts"):
      yield f"{loc}.outputDefinitions.artifacts.executor-logs", "is the launcher's own log artifact"
