"""Golden tests of both compiled targets (as in KFP's read_write_test), and what they hold:
runtime parameters with their defaults, image, roots and components."""

import json
import os
import re

import pytest
import yaml

from pipeline import cli
from pipeline.config import ACCURACY_THRESHOLDS, KFP_TARGET_FILES as TARGET_FILES
from pipeline.runners.kubeflow import compile_vertex, kfp_config
from trainer_module.hparams import HParams

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
_VERSIONS = re.compile(r"(tfx-|kfp_sdk_version: |kfp_sdk_version\": \")\d+\.\d+\.\d+[^\s\"',}]*")


def _load(path: str) -> dict:
  """The compiled file with TFX/KFP/schema versions masked, so only real changes differ."""
  with open(path) as f:
    spec = yaml.safe_load(_VERSIONS.sub(r"\1VERSION", f.read()))
  if "schemaVersion" in spec:
    spec["schemaVersion"] = "VERSION"
  return spec


def _compile(tmp_path, target: str, *flags: str) -> dict:
  out = str(tmp_path / f"{target}.yaml")
  cli.main(["compile", "--target", target, "--output", out, *flags])
  return _load(out)


def _vertex_defaults(spec: dict) -> dict:
  return {name: (d["type"], d["defaultValue"])
          for name, d in spec["root"]["inputDefinitions"]["parameters"].items()}


def _argo_defaults(workflow: dict) -> dict:
  return {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]}


@pytest.mark.parametrize("target", sorted(TARGET_FILES))
def test_compiling_again_reproduces_the_committed_file(tmp_path, target):
  fresh = str(tmp_path / TARGET_FILES[target])
  cli.main(["compile", "--target", target, "--output", fresh])  # What `make compile` runs.
  assert _load(fresh) == _load(os.path.join(REPO, TARGET_FILES[target])), (
      f"{TARGET_FILES[target]} is stale: run `make compile` and commit it")


def test_vertex_spec_declares_runtime_parameters_with_the_compiled_defaults(tmp_path):
  spec = _compile(tmp_path, "vertex", "--dataset", "mnist", "--train-steps", "321",
                  "--accuracy-threshold", "0.5", "--output-root", "gs://b/r")
  assert _vertex_defaults(spec) == {"data_dir": ("STRING", "gs://b/r/idx/mnist"),
                                    "train_steps": ("INT", 321),
                                    "accuracy_threshold": ("DOUBLE", 0.5)}
  tasks = spec["root"]["dag"]["tasks"]
  for task, key, name in [("FileBasedExampleGen", "input_base", "data_dir"),
                          ("Trainer", "train_steps", "train_steps"),
                          ("Evaluator", "accuracy_threshold", "accuracy_threshold")]:
    assert tasks[task]["inputs"]["parameters"][key] == {"componentInputParameter": name}
  # The step count is not also baked into train_args.
  assert "num_steps" not in tasks["Trainer"]["inputs"]["parameters"]["train_args"][
      "runtimeValue"]["constantValue"]["stringValue"]


def test_kubeflow_workflow_declares_runtime_parameters_with_the_compiled_defaults(tmp_path):
  workflow = _compile(tmp_path, "kubeflow", "--train-steps", "321", "--accuracy-threshold",
                      "0.5", "--output-root", "gs://b/r")
  assert _argo_defaults(workflow) == {
      "pipeline-root": "gs://b/r/pipelines/mnist-tfx-fashion-mnist",
      "data_dir": "gs://b/r/idx/fashion_mnist", "train_steps": "321",
      "accuracy_threshold": "0.5"}
  templates = {t["name"]: t for t in workflow["spec"]["templates"]}
  trainer_args = templates["trainer"]["container"]["args"]
  assert "train_steps=INT:{{inputs.parameters.train_steps}}" in trainer_args
  assert "accuracy_threshold=DOUBLE:{{inputs.parameters.accuracy_threshold}}" in templates[
      "evaluator"]["container"]["args"]
  assert "data_dir=STRING:{{inputs.parameters.data_dir}}" in templates[
      "filebasedexamplegen"]["container"]["args"]
  # Open-source KFP: the resolver is an ordinary container step, and metadata is the cluster's.
  assert "latest-blessed-model-resolver" in templates
  config = json.loads(trainer_args[trainer_args.index("--kubeflow_metadata_config") + 1])
  assert config["grpc_config"]["grpc_service_host"] == {
      "environment_variable": "METADATA_GRPC_SERVICE_HOST"}


def test_spec_carries_config_image_root_and_every_component(tmp_path):
  hparams = HParams(train_steps=100, model="vgg_like", dataset="mnist")
  config = kfp_config(hparams, 0.9, output_root="gs://bucket/x")
  spec = _load(compile_vertex(config, str(tmp_path / "p.yaml"), "registry.example/mnist:7"))
  assert spec["defaultPipelineRoot"] == "gs://bucket/x/pipelines/mnist-tfx-mnist"
  images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()
            if "container" in e}
  assert images == {"registry.example/mnist:7"}
  assert set(spec["root"]["dag"]["tasks"]) == {
      "FileBasedExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "AnomalyGate",
      "Trainer", "Evaluator", "Pusher",
      # KFP v2 has no resolver node: TFX compiles it into two importer-like resolver tasks.
      "latest_blessed_model_resolver-model-blessing-resolver",
      "latest_blessed_model_resolver-model-resolver"}
  assert "AnomalyGate" in spec["root"]["dag"]["tasks"]["Trainer"]["dependentTasks"]
  trainer_params = spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]
  assert '"model": "vgg_like"' in trainer_params["custom_config"]["runtimeValue"]["constantValue"]["stringValue"]


def test_data_dir_follows_the_dataset_unless_given(tmp_path):
  for dataset in ACCURACY_THRESHOLDS:
    spec = _compile(tmp_path, "vertex", "--dataset", dataset)
    assert _vertex_defaults(spec)["data_dir"] == (
        "STRING", f"gs://YOUR_BUCKET/mnist-tfx/idx/{dataset}")
  spec = _compile(tmp_path, "vertex", "--dataset", "mnist", "--data-dir", "gs://b/digits")
  assert _vertex_defaults(spec)["data_dir"] == ("STRING", "gs://b/digits")


def test_one_output_file_needs_one_target(tmp_path, capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["compile", "--output", str(tmp_path / "x.yaml")])
  assert exit_info.value.code == 1
  assert "--output names one file: give one --target with it" in capsys.readouterr().err
  assert not os.listdir(tmp_path)


def test_vertex_training_runs_the_trainer_over_worker_pools(tmp_path):
  spec = _compile(tmp_path, "vertex", "--image", "gcr.io/p/mnist:1", "--vertex-project", "p",
                  "--vertex-region", "europe-west4", "--distribute", "parameter_server")
  params = spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]
  custom_config = json.loads(params["custom_config"]["runtimeValue"]["constantValue"]["stringValue"])
  assert custom_config["hparams"]["distribute"] == "parameter_server"
  assert custom_config["ai_platform_enable_vertex"] is True
  assert custom_config["ai_platform_vertex_region"] == "europe-west4"
  job = custom_config["ai_platform_training_args"]
  assert job["project"] == "p"
  pools = job["job_spec"]["worker_pool_specs"]
  # The workshop's shape: chief, 3 workers, 3 parameter servers, all on the project's image.
  assert [p["replica_count"] for p in pools] == [1, 3, 3]
  assert {p["container_spec"]["image_uri"] for p in pools} == {"gcr.io/p/mnist:1"}
  executor = spec["deploymentSpec"]["executors"][
      spec["components"]["Trainer"]["executorLabel"]]["container"]
  assert "components.trainer.VertexExecutor" in executor["args"]


def test_the_compiled_schema_path_is_where_the_image_has_it():
  from pipeline.runners.kubeflow import KFP_SCHEMA_FILE  # pylint: disable=import-outside-toplevel
  with open(os.path.join(REPO, "Dockerfile")) as f:
    dockerfile = f.read()
  assert "WORKDIR /app" in dockerfile and "COPY pipeline/ pipeline/" in dockerfile
  assert KFP_SCHEMA_FILE == "/app/" + os.path.relpath(
      os.path.join(REPO, "pipeline", "data", "schema.pbtxt"), REPO)
  assert os.path.exists(os.path.join(REPO, "pipeline", "data", "schema.pbtxt"))
