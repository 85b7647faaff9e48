"""Golden test: compiling again reproduces the committed pipeline.yaml (as in KFP's read_write_test)."""

import os
import re

import yaml

from pipeline.kubeflow_v2_runner import compile_pipeline, kfp_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(REPO, "pipeline.yaml")
_VERSIONS = re.compile(r"tfx-\d+\.\d+\.\d+\S*")


def _normalized(path: str) -> dict:
  """The spec with TFX/schema version fields masked, so only real changes differ."""
  with open(path) as f:
    spec = yaml.safe_load(_VERSIONS.sub("tfx-VERSION", f.read()))
  spec["schemaVersion"] = "VERSION"
  return spec


def test_compiled_spec_matches_the_committed_pipeline_yaml(tmp_path):
  fresh = compile_pipeline(kfp_config("fashion_mnist"), str(tmp_path / "pipeline.yaml"))
  assert _normalized(fresh) == _normalized(GOLDEN), (
      "pipeline.yaml is stale: run `make compile` and commit it")


def test_spec_carries_config_image_root_and_every_component(tmp_path):
  config = kfp_config("mnist", image="registry.example/mnist:7", model="vgg_like",
                      output_root="gs://bucket/x")
  spec = _normalized(compile_pipeline(config, str(tmp_path / "p.yaml")))
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
