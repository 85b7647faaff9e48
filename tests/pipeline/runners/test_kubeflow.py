"""Golden tests of both compiled targets (as in KFP's read_write_test), and what they hold:
runtime parameters with their defaults, image, roots and components."""

import json
import os
import re
import subprocess
import sys

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
  return {name: (d["parameterType"], d["defaultValue"])
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
  assert _vertex_defaults(spec) == {
      "data_dir": ("STRING", "gs://b/r/idx/mnist"),
      "serving_dir": ("STRING", "gs://b/r/serving_model/mnist-tfx-mnist/cnn"),
      "train_steps": ("NUMBER_INTEGER", 321), "accuracy_threshold": ("NUMBER_DOUBLE", 0.5)}
  tasks = spec["root"]["dag"]["tasks"]
  for task, key, name in [("FileBasedExampleGen", "input_base", "data_dir"),
                          ("Trainer", "train_steps", "train_steps"),
                          ("Evaluator", "accuracy_threshold", "accuracy_threshold"),
                          ("ServedBaseline", "serving_dir", "serving_dir"),
                          ("Pusher", "serving_dir", "serving_dir")]:
    assert tasks[task]["inputs"]["parameters"][key] == {"componentInputParameter": name}
  # The step count is not also baked into train_args.
  assert "num_steps" not in tasks["Trainer"]["inputs"]["parameters"]["train_args"][
      "runtimeValue"]["constant"]


def test_kubeflow_workflow_declares_runtime_parameters_with_the_compiled_defaults(tmp_path):
  workflow = _compile(tmp_path, "kubeflow", "--train-steps", "321", "--accuracy-threshold",
                      "0.5", "--output-root", "gs://b/r")
  assert _argo_defaults(workflow) == {
      "pipeline-root": "gs://b/r/pipelines/mnist-tfx-fashion-mnist",
      "data_dir": "gs://b/r/idx/fashion_mnist",
      "serving_dir": "gs://b/r/serving_model/mnist-tfx-fashion-mnist/cnn", "train_steps": "321",
      "accuracy_threshold": "0.5"}
  templates = {t["name"]: t for t in workflow["spec"]["templates"]}
  trainer_args = templates["trainer"]["container"]["args"]
  assert "train_steps=INT:{{inputs.parameters.train_steps}}" in trainer_args
  assert "accuracy_threshold=DOUBLE:{{inputs.parameters.accuracy_threshold}}" in templates[
      "evaluator"]["container"]["args"]
  assert "data_dir=STRING:{{inputs.parameters.data_dir}}" in templates[
      "filebasedexamplegen"]["container"]["args"]
  # The baseline is an ordinary container step, and metadata is the cluster's.
  assert "servedbaseline" in templates
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
      "Trainer", "ServedBaseline", "Evaluator", "Pusher", "ExampleGenDriver"}
  # No resolver executor (open-source KFP 2.x implements none); the baseline runs uncached.
  assert all("resolver" not in e for e in spec["deploymentSpec"]["executors"].values())
  tasks = spec["root"]["dag"]["tasks"]
  for uncached in ("ServedBaseline", "ExampleGenDriver"):
    assert tasks[uncached]["cachingOptions"] == {"enableCache": False}
  # ExampleGen's driver is a task of its own (KFP 2.x never runs preCacheCheck), and its
  # span and fingerprint reach ExampleGen's inputs, so its cache key follows the data.
  assert all("lifecycle" not in e.get("container", {})
             for e in spec["deploymentSpec"]["executors"].values())
  gen = tasks["FileBasedExampleGen"]["inputs"]["parameters"]
  assert gen["input_fingerprint"] == {"taskOutputParameter": {
      "producerTask": "ExampleGenDriver", "outputParameterKey": "input_fingerprint"}}
  assert tasks["ExampleGenDriver"]["inputs"]["parameters"]["input_base"] == {
      "componentInputParameter": "data_dir"}
  assert "AnomalyGate" in spec["root"]["dag"]["tasks"]["Trainer"]["dependentTasks"]
  trainer_params = spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]
  custom_config = trainer_params["custom_config"]["runtimeValue"]["constant"]
  assert '"model": "vgg_like"' in custom_config


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
  custom_config = json.loads(params["custom_config"]["runtimeValue"]["constant"])
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
  from pipeline.runners.kubeflow import KFP_SCHEMA_FILE
  with open(os.path.join(REPO, "Dockerfile")) as f:
    dockerfile = f.read()
  assert "WORKDIR /app" in dockerfile and "COPY pipeline/ pipeline/" in dockerfile
  assert KFP_SCHEMA_FILE == "/app/" + os.path.relpath(
      os.path.join(REPO, "pipeline", "data", "schema.pbtxt"), REPO)
  assert os.path.exists(os.path.join(REPO, "pipeline", "data", "schema.pbtxt"))


def _containers(workflow: dict) -> dict:
  return {t["name"]: t for t in workflow["spec"]["templates"] if "container" in t}


def _beam_args(template: dict) -> list:
  args = template["container"]["args"]
  ir = json.loads(args[args.index("--tfx_ir") + 1])
  [spec] = ir["deploymentConfig"]["executorSpecs"].values()
  return spec.get("beamPipelineArgs", [])


@pytest.mark.parametrize("target", sorted(TARGET_FILES))
def test_every_committed_step_has_requests_and_a_memory_limit(target):
  from pipeline.runners.pods import DEFAULT_RESOURCES
  compiled = _load(os.path.join(REPO, TARGET_FILES[target]))
  if target == "kubeflow":
    templates = _containers(compiled)
    assert len(templates) == 9
    for template in templates.values():
      resources = template["container"]["resources"]
      assert set(resources["requests"]) == {"cpu", "memory"} and set(resources["limits"]) == {
          "memory"}
    # Beam steps: as many workers as their CPU request, never one per node core (0).
    workers = DEFAULT_RESOURCES["StatisticsGen"].beam_workers
    assert f"--direct_num_workers={workers}" in _beam_args(templates["statisticsgen"])
    assert "--direct_num_workers=0" not in json.dumps(compiled)
  else:
    executors = compiled["deploymentSpec"]["executors"]
    containers = [e["container"] for e in executors.values() if "container" in e]
    # Every step a container: the baseline and ExampleGen's driver too.
    assert len(containers) == len(executors) == 10
    assert all(set(c["resources"]) == {"cpuLimit", "memoryLimit"} for c in containers)


def test_kubeflow_pvc_and_resources_reach_every_step(tmp_path):
  workflow = _compile(tmp_path, "kubeflow", "--pvc", "team-data:/mnt/team",
                      "--resources", "all=1,1Gi,2Gi", "--resources", "StatisticsGen=3,5Gi,7Gi")
  # The pipeline root, data and pushed models live on the claim.
  assert _argo_defaults(workflow)["pipeline-root"] == "/mnt/team/pipelines/mnist-tfx-fashion-mnist"
  assert _argo_defaults(workflow)["data_dir"] == "/mnt/team/idx/fashion_mnist"
  assert "/mnt/team/serving_model/mnist-tfx-fashion-mnist/cnn" in json.dumps(workflow)
  templates = _containers(workflow)
  for name, template in templates.items():
    assert template["volumes"] == [{"name": "pipeline-root",
                                    "persistentVolumeClaim": {"claimName": "team-data"}}], name
    assert template["container"]["volumeMounts"] == [{"mountPath": "/mnt/team",
                                                      "name": "pipeline-root"}], name
    expected = ({"requests": {"cpu": "3", "memory": "5Gi"}, "limits": {"memory": "7Gi"}}
                if name == "statisticsgen" else
                {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}})
    assert template["container"]["resources"] == expected, name
  assert _beam_args(templates["statisticsgen"]) == [
      "--direct_running_mode=multi_processing", "--direct_num_workers=3"]
  assert _beam_args(templates["evaluator"]) == [
      "--direct_running_mode=in_memory", "--direct_num_workers=1"]


def test_vertex_accelerator_and_resources(tmp_path):
  spec = _compile(tmp_path, "vertex", "--image", "gcr.io/p/mnist:1-gpu", "--vertex-project", "p",
                  "--vertex-accelerator", "NVIDIA_TESLA_T4:2", "--resources", "Evaluator=4,6Gi,8Gi")
  params = spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]
  custom_config = json.loads(params["custom_config"]["runtimeValue"]["constant"])
  pools = custom_config["ai_platform_training_args"]["job_spec"]["worker_pool_specs"]
  # GPUs on the chief and the workers; the parameter servers only hold variables.
  assert [p["machine_spec"].get("accelerator_type") for p in pools] == [
      "NVIDIA_TESLA_T4", "NVIDIA_TESLA_T4", None]
  assert [p["machine_spec"].get("accelerator_count") for p in pools] == [2, 2, None]
  evaluator = spec["deploymentSpec"]["executors"]["Evaluator_executor"]["container"]
  assert evaluator["resources"] == {"cpuLimit": 4.0, "memoryLimit": 8.59}
  assert evaluator["args"][-2:] == ["--direct_running_mode=multi_processing",
                                    "--direct_num_workers=4"]


@pytest.mark.parametrize("flags, message", [
    (["--target", "vertex", "--vertex-project", "p", "--distribute", "multi_worker_mirrored"],
     "error: --distribute multi_worker_mirrored takes no parameter servers, but --vertex-ps is "
     "3: add --vertex-ps 0, or use --distribute parameter_server"),
    (["--target", "vertex", "--vertex-project", "p", "--vertex-ps", "0", "--distribute",
      "parameter_server"],
     "error: --distribute parameter_server needs at least one parameter server: give "
     "--vertex-ps 1 or more, or use --distribute multi_worker_mirrored"),
    (["--target", "vertex", "--vertex-accelerator", "NVIDIA_TESLA_T4:1"],
     "error: --vertex-accelerator sets the Vertex AI worker pools: add --vertex-project"),
    (["--target", "vertex", "--vertex-project", "p", "--vertex-accelerator", "T4"],
     "error: --vertex-accelerator T4: write it as TYPE:COUNT, e.g. NVIDIA_TESLA_T4:1"),
    (["--target", "vertex", "--pvc", "data"],
     "error: --pvc mounts a Kubernetes volume, which Vertex AI Pipelines "
     "cannot: add --target kubeflow"),
    (["--target", "kubeflow", "--pvc", "data", "--output-root", "gs://b/x"],
     "error: --output-root gs://b/x is not under the --pvc mount path /mnt/pipeline; drop "
     "--output-root or give one inside it"),
])
def test_impossible_settings_are_one_line_before_tensorflow_loads(tmp_path, flags, message):
  code = ("import sys\nfrom pipeline import cli\ntry:\n"
          f"  cli.main(['compile', '--output', {str(tmp_path / 'x.yaml')!r}] + {flags!r})\n"
          "except SystemExit as e:\n  print('exit', e.code, 'tensorflow' in sys.modules)\n")
  proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                        timeout=120)
  assert proc.stdout.split() == ["exit", "1", "False"]
  assert proc.stderr.strip().splitlines() == [message]
  assert not os.listdir(tmp_path)
