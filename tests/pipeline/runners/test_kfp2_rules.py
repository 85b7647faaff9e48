"""The static KFP 2.x backend rules (tests/support/kfp2_rules.py) on tiny synthetic specs: for every rule,
specs that break it (reported at the expected place) and specs that keep it (no violation of any rule)."""

import copy
import re
from typing import Any, Callable, Dict, List, Tuple

import pytest
import yaml

from tests.support import kfp2_rules
from tests.support.kfp2_rules import RULES, check, check_file

Mutate = Callable[[dict], None]
MAKE = "deploymentSpec.executors.Make_executor.container"
USE_EXEC = "deploymentSpec.executors.Use_executor"
MAKE_TASK, USE_TASK = "root.dag.tasks.make", "root.dag.tasks.use"


def artifact(schema: Dict[str, str]) -> dict:
  """An artifact definition of the given artifactType."""
  return {"artifactType": dict(schema)}


def base() -> dict:
  """A clean two-task pipeline: `make` (a container with params and outputs) feeds `use`."""
  dataset = {"schemaTitle": "system.Dataset"}
  return {
      "schemaVersion": "2.1.0", "sdkVersion": "tfx-1.15.1", "pipelineInfo": {"name": "demo"},
      "defaultPipelineRoot": "s3://bucket/root",
      "root": {
          "inputDefinitions": {"parameters": {"n": {"parameterType": "NUMBER_INTEGER", "defaultValue": 3}}},
          "dag": {"tasks": {
              "make": {"taskInfo": {"name": "make"}, "componentRef": {"name": "Make"},
                       "inputs": {"parameters": {"n": {"componentInputParameter": "n"},
                                                 "label": {"runtimeValue": {"constant": "x"}}}}},
              "use": {"taskInfo": {"name": "use"}, "componentRef": {"name": "Use"},
                      "dependentTasks": ["make"], "inputs": {
                          "artifacts": {"data": {"taskOutputArtifact": {"producerTask": "make",
                                                                        "outputArtifactKey": "data"}}},
                          "parameters": {"count": {"taskOutputParameter": {"producerTask": "make",
                                                                           "outputParameterKey": "count"}}}}},
          }}},
      "components": {
          "Make": {"executorLabel": "Make_executor",
                   "inputDefinitions": {"parameters": {"n": {"parameterType": "NUMBER_INTEGER"},
                                                       "label": {"parameterType": "STRING"}}},
                   "outputDefinitions": {"artifacts": {"data": artifact(dataset)},
                                         "parameters": {"count": {"parameterType": "NUMBER_INTEGER"}}}},
          "Use": {"executorLabel": "Use_executor",
                  "inputDefinitions": {"artifacts": {"data": artifact(dataset)},
                                       "parameters": {"count": {"parameterType": "NUMBER_DOUBLE"}}}}},
      "deploymentSpec": {"executors": {
          "Make_executor": {"container": {
              "image": "img:1", "command": ["python", "-m", "make"],
              "args": ["{{$}}", "--n={{$.inputs.parameters['n']}}",
                       "--out={{$.outputs.artifacts['data'].path}}"],
              "resources": {"cpuLimit": 1.0, "resourceMemoryLimit": "2Gi"}}},
          "Use_executor": {"container": {"image": "img:1", "command": ["python", "-m", "use"],
                                         "args": ["{{$}}", "{{$.inputs.artifacts['data'].uri}}"]}}}},
  }


def _walk(spec: dict, path: str) -> Tuple[Any, str]:
  """The mapping holding the last key of dotted `path` (created on the way), and that key."""
  *parents, last = path.split(".")
  node = spec
  for key in parents:
    node = node.setdefault(key, {})
  return node, last


def put(path: str, value: Any) -> Mutate:
  """Set the value at dotted `path`."""
  def mutate(spec: dict) -> None:
    node, key = _walk(spec, path)
    node[key] = copy.deepcopy(value)
  return mutate


def drop(path: str) -> Mutate:
  """Delete the value at dotted `path`."""
  def mutate(spec: dict) -> None:
    node, key = _walk(spec, path)
    del node[key]
  return mutate


def append(path: str, item: Any) -> Mutate:
  """Append `item` to the list at dotted `path`."""
  def mutate(spec: dict) -> None:
    node, key = _walk(spec, path)
    node[key] = node[key] + [item]
  return mutate


def both(*mutations: Mutate) -> Mutate:
  """Apply `mutations` in order."""
  def mutate(spec: dict) -> None:
    for m in mutations:
      m(spec)
  return mutate


def copy_container(spec: dict) -> None:
  """Give Use_executor Make_executor's exact container."""
  executors = spec["deploymentSpec"]["executors"]
  executors["Use_executor"] = copy.deepcopy(executors["Make_executor"])


def twin_component(spec: dict) -> None:
  """Add Make2: Make's exact component spec and container, under another executor label."""
  make = copy.deepcopy(spec["components"]["Make"])
  spec["components"]["Make2"] = {**make, "executorLabel": "Make2_executor"}
  spec["deploymentSpec"]["executors"]["Make2_executor"] = copy.deepcopy(
      spec["deploymentSpec"]["executors"]["Make_executor"])


def nothing(spec: dict) -> None:
  """The clean base spec as it is."""


IMPORTER = {"typeSchema": {"schemaTitle": "system.Dataset"}}
TITLED = {"instanceSchema": "title: tfx.Examples\ntype: object\n"}
USE_DATA = "components.Use.inputDefinitions.artifacts.data.artifactType"
MAKE_LABEL = "components.Make.inputDefinitions.parameters.label"
COUNT_REF = f"{USE_TASK}.inputs.parameters.count.taskOutputParameter"

# (rule, mutation of base() that breaks it, a location the violation must be reported at)
BAD: List[Tuple[str, Mutate, str]] = [
    ("schema-version", put("schemaVersion", "2.0.0"), "schemaVersion"),
    ("pipeline-info", put("pipelineInfo.name", ""), "pipelineInfo.name"),
    ("pipeline-info", drop("root"), "root"),
    ("known-fields", put("components.Make.displayName", "x"), "components.Make.displayName"),
    ("known-fields", put(f"{USE_TASK}.cacheOptions", {}), f"{USE_TASK}.cacheOptions"),
    ("executor-kind", put(USE_EXEC, {"resolver": {"outputArtifactQueries": {}}}), USE_EXEC),
    ("component-impl", drop("components.Use.executorLabel"), "components.Use"),
    ("component-impl", put("components.Use.executorLabel", "Gone_executor"), "components.Use.executorLabel"),
    ("component-ref", put(f"{USE_TASK}.componentRef.name", "Nope"), f"{USE_TASK}.componentRef.name"),
    ("task-name", drop(f"{USE_TASK}.taskInfo"), f"{USE_TASK}.taskInfo.name"),
    ("task-refs", append(f"{USE_TASK}.dependentTasks", "ghost"), f"{USE_TASK}.dependentTasks"),
    ("task-refs", put(f"{USE_TASK}.inputs.artifacts.data.taskOutputArtifact.producerTask", "ghost"),
     f"{USE_TASK}.inputs.artifacts.data.taskOutputArtifact.producerTask"),
    ("output-keys", put(f"{USE_TASK}.inputs.artifacts.data.taskOutputArtifact.outputArtifactKey", "model"),
     f"{USE_TASK}.inputs.artifacts.data.taskOutputArtifact.outputArtifactKey"),
    ("output-keys", put(f"{COUNT_REF}.outputParameterKey", "total"), f"{COUNT_REF}.outputParameterKey"),
    ("container-hash", copy_container, f"{USE_EXEC}.container"),
    ("artifact-iterator", put(f"{USE_TASK}.artifactIterator", {"itemInput": "x"}),
     f"{USE_TASK}.artifactIterator"),
    ("component-inputs", put(f"{MAKE_TASK}.inputs.parameters.n.componentInputParameter", "m"),
     f"{MAKE_TASK}.inputs.parameters.n.componentInputParameter"),
    ("component-inputs", put(f"{USE_TASK}.inputs.artifacts.data", {"componentInputArtifact": "raw"}),
     f"{USE_TASK}.inputs.artifacts.data.componentInputArtifact"),
    ("required-inputs", drop(f"{MAKE_TASK}.inputs.parameters.label"),
     f"{MAKE_TASK}.inputs.parameters.label"),
    ("parameter-type", put(MAKE_LABEL, {"type": "STRING"}), f"{MAKE_LABEL}.type"),
    ("parameter-type", put(MAKE_LABEL, {"type": "STRING"}), f"{MAKE_LABEL}.parameterType"),
    ("parameter-type", put("components.Make.outputDefinitions.parameters.count.parameterType", "INT"),
     "components.Make.outputDefinitions.parameters.count.parameterType"),
    ("runtime-constant", put(f"{MAKE_TASK}.inputs.parameters.label.runtimeValue",
                             {"constantValue": {"stringValue": "x"}}),
     f"{MAKE_TASK}.inputs.parameters.label.runtimeValue"),
    ("constant-type", put(f"{MAKE_TASK}.inputs.parameters.n", {"runtimeValue": {"constant": "3"}}),
     f"{MAKE_TASK}.inputs.parameters.n.runtimeValue.constant"),
    ("input-type-flow", put("components.Use.inputDefinitions.parameters.count.parameterType", "LIST"),
     f"{USE_TASK}.inputs.parameters.count"),
    ("input-type-flow", put("root.inputDefinitions.parameters.n", {"parameterType": "STRING",
                                                                   "defaultValue": "3"}),
     f"{MAKE_TASK}.inputs.parameters.n"),
    ("no-pre-cache-check", put(f"{MAKE}.lifecycle", {"preCacheCheck": {"command": ["python", "-m", "drv"]}}),
     f"{MAKE}.lifecycle"),
    ("artifact-type", put(USE_DATA, {"schemaUri": "gs://types/dataset.yaml"}), USE_DATA),
    ("artifact-type", put(USE_EXEC, {"importer": {
        "artifactUri": {"constant": "gs://b/x"}, "typeSchema": {}}}),
     f"{USE_EXEC}.importer.typeSchema"),
    ("instance-schema-title", put(USE_DATA, {"instanceSchema": "type: object\n"}),
     f"{USE_DATA}.instanceSchema"),
    ("reserved-output", put("components.Make.outputDefinitions.artifacts.executor-logs",
                            artifact({"schemaTitle": "system.Artifact"})),
     "components.Make.outputDefinitions.artifacts.executor-logs"),
    ("pipeline-root", put("defaultPipelineRoot", "file:///tmp/root"), "defaultPipelineRoot"),
    ("pipeline-root", put("defaultPipelineRoot", "s3:///no-bucket"), "defaultPipelineRoot"),
    ("placeholder-params", append(f"{MAKE}.args", "--m={{$.inputs.parameters['m']}}"), MAKE),
    ("placeholder-other", append(f"{MAKE}.args", "{{$.outputs.artifacts['model'].path}}"), MAKE),
    ("resources", put(f"{MAKE}.resources.resourceMemoryLimit", "2 GB"),
     f"{MAKE}.resources.resourceMemoryLimit"),
    ("resources", put(f"{MAKE}.resources.accelerator", {"resourceType": "nvidia.com/gpu"}),
     f"{MAKE}.resources.accelerator"),
    ("importer-uri", put(USE_EXEC, {"importer": {
        **IMPORTER, "artifactUri": {"constantValue": {"stringValue": "gs://b/x"}}}}),
     f"{USE_EXEC}.importer.artifactUri"),
]

# (rule, mutation of base() that exercises the rule's subject and still breaks no rule)
GOOD: List[Tuple[str, Mutate]] = [
    ("schema-version", nothing),
    ("pipeline-info", put("pipelineInfo.name", "mnist-tfx.v2")),
    ("known-fields", put(f"{USE_TASK}.caching_options", {"enableCache": False})),
    ("executor-kind", put(USE_EXEC, {"importer": {
        **IMPORTER, "artifactUri": {"constant": "gs://b/x"}}})),
    ("component-impl", nothing),
    ("component-ref", nothing),
    ("task-name", nothing),
    ("task-refs", nothing),
    ("output-keys", nothing),
    ("container-hash", twin_component),
    ("artifact-iterator", nothing),
    ("component-inputs", nothing),
    ("required-inputs", both(drop(f"{MAKE_TASK}.inputs.parameters.label"),
                             put(f"{MAKE_LABEL}.isOptional", True))),
    ("required-inputs", both(drop(f"{MAKE_TASK}.inputs.parameters.label"),
                             put(f"{MAKE_LABEL}.defaultValue", "y"))),
    ("parameter-type", nothing),
    ("runtime-constant", nothing),
    ("constant-type", put(f"{MAKE_TASK}.inputs.parameters.n", {"runtimeValue": {"constant": 6.0}})),
    ("constant-type", put(f"{MAKE_TASK}.inputs.parameters.label", {"runtimeValue": {"constant": [1]}})),
    ("input-type-flow", put("components.Use.inputDefinitions.parameters.count.parameterType", "STRING")),
    ("no-pre-cache-check", nothing),
    ("artifact-type", put(USE_DATA, TITLED)),
    ("instance-schema-title", put(USE_DATA, TITLED)),
    ("reserved-output", nothing),
    ("pipeline-root", drop("defaultPipelineRoot")),
    ("pipeline-root", put("defaultPipelineRoot", "minio://mlpipeline/v2/artifacts")),
    ("placeholder-params", nothing),
    ("placeholder-other", append(f"{USE_EXEC}.container.args",
                                 "{{$.inputs.artifacts['data'].path}}")),
    ("resources", put(f"{MAKE}.resources", {"resourceCpuLimit": "500m", "resourceMemoryRequest": "1.5Gi",
                                            "accelerator": {"resourceType": "nvidia.com/gpu",
                                                            "resourceCount": "1"}})),
    ("importer-uri", put(USE_EXEC, {"importer": {
        **IMPORTER, "artifactUri": {"runtimeParameter": "uri"}}})),
]


def _ids(cases: list) -> List[str]:
  """Test ids: the rule, numbered when it has several cases."""
  return [f"{case[0]}-{i}" for i, case in enumerate(cases)]


@pytest.mark.parametrize("rule, mutate, location", BAD, ids=_ids(BAD))
def test_a_spec_breaking_a_rule_is_reported_where_it_breaks_it(rule, mutate, location):
  spec = base()
  mutate(spec)
  found = [v for v in check(spec) if v.rule == rule]
  assert location in [v.location for v in found], found
  assert all(v.message for v in found)


@pytest.mark.parametrize("rule, mutate", GOOD, ids=_ids(GOOD))
def test_a_spec_keeping_a_rule_has_no_violation(rule, mutate):
  spec = base()
  mutate(spec)
  assert check(spec) == []


def test_every_rule_has_a_breaking_and_a_keeping_case_and_a_pinned_citation():
  ids = [rule.id for rule in RULES]
  assert len(ids) == len(set(ids))
  assert {case[0] for case in BAD} == set(ids) == {case[0] for case in GOOD}
  assert re.fullmatch(r"[0-9a-f]{40}", kfp2_rules.PINNED)
  for rule in RULES:
    assert re.fullmatch(r"backend/src/[\w/]+\.go:(\d+)-(\d+)", rule.citation), rule
    first, last = map(int, rule.citation.rsplit(":", 1)[1].split("-"))
    assert first <= last and rule.description and "\n" not in rule.description


def test_a_malformed_spec_gives_violations_not_exceptions():
  for spec in ({}, {"root": None, "components": [], "deploymentSpec": "x"}, {"root": {"dag": {"tasks": 3}}}):
    assert {v.rule for v in check(spec)} >= {"schema-version"}


def test_check_file_skips_leading_comments_and_finds_the_spec_among_documents(tmp_path):
  spec = base()
  spec["schemaVersion"] = "2.0.0"
  path = tmp_path / "pipeline.yaml"
  path.write_text("# Generated; do not edit.\n# Second comment line.\n" + yaml.safe_dump(spec)
                  + "---\nplatforms:\n  kubernetes:\n    deploymentSpec: {}\n")
  assert [(v.rule, v.location) for v in check_file(path)] == [("schema-version", "schemaVersion")]


def test_main_prints_one_line_per_violation_and_a_count_per_rule(tmp_path, capsys):
  clean, broken = tmp_path / "clean.yaml", tmp_path / "broken.yaml"
  clean.write_text(yaml.safe_dump(base()))
  spec = base()
  put(f"{MAKE}.lifecycle", {"preCacheCheck": {}})(spec)
  put("schemaVersion", "2.0.0")(spec)
  broken.write_text(yaml.safe_dump(spec))

  assert kfp2_rules.main([str(clean)]) == 0
  assert capsys.readouterr().out.startswith(f"0 violation(s) of {len(RULES)} rules")

  assert kfp2_rules.main([str(broken)]) == 1
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == (f"{broken}: [schema-version] schemaVersion: "
                      "is '2.0.0'; the API server accepts only '2.1.0'")
  assert lines[1].startswith(f"{broken}: [no-pre-cache-check] {MAKE}.lifecycle: ")
  assert lines[2].startswith(f"2 violation(s) of {len(RULES)} rules")
  counts = {line.split()[0]: int(line.split()[1]) for line in lines[3:]}
  assert counts == {rule.id: int(rule.id in ("schema-version", "no-pre-cache-check")) for rule in RULES}


def test_the_committed_pipeline_yaml_breaks_no_rule_of_the_oss_backend():
  """What `make compile` writes is checked against open-source KFP 2.x's rules, each citing
  kubeflow/pipelines at `kfp2_rules.PINNED`."""
  import os
  repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
      os.path.abspath(__file__)))))
  violations = kfp2_rules.check_file(os.path.join(repo, "pipeline.yaml"))
  assert violations == [], "\n".join(map(str, violations))
