"""Golden test: compiling again reproduces the committed pipeline.yaml (as in KFP's read_write_test)."""

import json
import os
import re

import yaml

from pipeline import cli
from pipeline.config import DATASET_DEFAULTS
from pipeline.runners.kubeflow import compile_pipeline, kfp_config
from trainer_module.hparams import HParams

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GOLDEN = os.path.join(REPO, "pipeline.yaml")
_VERSIONS = re.compile(r"tfx-\d+\.\d+\.\d+\S*")


def _normalized(path: str) -> dict:
  """The spec with TFX/schema version fields masked, so only real changes differ."""
  with open(path) as f:
    spec = yaml.safe_load(_VERSIONS.sub("tfx-VERSION", f.read()))
  spec["schemaVersion"] = "VERSION"
  return spec


def _example_gen_input_base(spec: dict) -> str:
  params = spec["root"]["dag"]["tasks"]["FileBasedExampleGen"]["inputs"]["parameters"]
  return params["input_base"]["runtimeValue"]["constantValue"]["stringValue"]


def test_compiled_spec_matches_the_committed_pipeline_yaml(tmp_path):
  fresh = str(tmp_path / "pipeline.yaml")
  cli.main(["compile", "--output", fresh])  # What `make compile` runs.
  assert _normalized(fresh) == _normalized(GOLDEN), (
      "pipeline.yaml is stale: run `make compile` and commit it")


def test_spec_carries_config_image_root_and_every_component(tmp_path):
  hparams = HParams(train_steps=100, model="vgg_like", dataset="mnist")
  config = kfp_config(hparams, 0.9, output_root="gs://bucket/x")
  spec = _normalized(compile_pipeline(config, str(tmp_path / "p.yaml"), "registry.example/mnist:7"))
  assert spec["defaultPipelineRoot"] == "gs://bucket/x/pipelines/mnist-tfx-mnist"
  assert _example_gen_input_base(spec) == "gs://bucket/x/idx/mnist"
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
  for dataset in DATASET_DEFAULTS:
    cli.main(["compile", "--dataset", dataset, "--output", str(tmp_path / f"{dataset}.yaml")])
    spec = _normalized(str(tmp_path / f"{dataset}.yaml"))
    assert _example_gen_input_base(spec) == f"gs://YOUR_BUCKET/mnist-tfx/idx/{dataset}"
  cli.main(["compile", "--dataset", "mnist", "--data-dir", "gs://b/digits",
            "--output", str(tmp_path / "given.yaml")])
  assert _example_gen_input_base(_normalized(str(tmp_path / "given.yaml"))) == "gs://b/digits"


def test_vertex_training_runs_the_trainer_over_worker_pools(tmp_path):
  out = str(tmp_path / "vertex.yaml")
  cli.main(["compile", "--output", out, "--image", "gcr.io/p/mnist:1", "--vertex-project", "p",
            "--vertex-region", "europe-west4", "--distribute", "parameter_server"])
  spec = _normalized(out)
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
  assert "tfx.extensions.google_cloud_ai_platform.trainer.executor.GenericExecutor" in " ".join(
      executor["args"])


def test_the_compiled_schema_path_is_where_the_image_has_it():
  from pipeline.runners.kubeflow import KFP_SCHEMA_FILE  # pylint: disable=import-outside-toplevel
  with open(os.path.join(REPO, "Dockerfile")) as f:
    dockerfile = f.read()
  assert "WORKDIR /app" in dockerfile and "COPY pipeline/ pipeline/" in dockerfile
  assert KFP_SCHEMA_FILE == "/app/" + os.path.relpath(
      os.path.join(REPO, "pipeline", "data", "schema.pbtxt"), REPO)
  assert os.path.exists(os.path.join(REPO, "pipeline", "data", "schema.pbtxt"))
