"""The real Kubeflow Pipelines 2.x SDK loads our compiled pipeline.yaml.

kfp 2 cannot live in .venv (TFX 1.15 pins kfp < 2 and protobuf < 4), so these tests run it in
.venv-kfp2, which `make venv` builds from requirements-kfp2.lock, through
tests/support/kfp2_load.py: `kfp.components.load_component_from_file`, then a recompile with
`kfp.compiler` that must give the same PipelineSpec.
"""

import json
import os
import subprocess
import textwrap

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
KFP2_PYTHON = os.path.join(REPO, ".venv-kfp2", "bin", "python")
LOADER = os.path.join(REPO, "tests", "support", "kfp2_load.py")


def _kfp2(*args: str, cwd: str) -> subprocess.CompletedProcess:
  if not os.access(KFP2_PYTHON, os.X_OK):
    pytest.fail(f"no kfp 2 venv at {KFP2_PYTHON}: run `make venv` (it builds .venv-kfp2 from "
                "requirements-kfp2.lock)", pytrace=False)
  # cwd outside the checkout: kfp 2 must not import anything of the project's.
  return subprocess.run([KFP2_PYTHON, *args], cwd=cwd, capture_output=True, text=True,
                        timeout=180, check=False)


def _load(path: str, cwd: str) -> dict:
  loaded = _kfp2(LOADER, path, cwd=cwd)
  assert loaded.returncode == 0, loaded.stderr
  return json.loads(loaded.stdout)


# A pipeline of container steps like ours: a `python -c` command, typed runtime parameters.
TINY_PIPELINE = textwrap.dedent("""\
    import sys
    from kfp import compiler, dsl

    @dsl.container_component
    def echo(message: str, times: int):
      return dsl.ContainerSpec(image="python:3.10-slim", command=["python", "-c"],
                               args=["import sys; print(sys.argv[1] * int(sys.argv[2]))",
                                     message, times])

    @dsl.pipeline(name="tiny-kfp2")
    def tiny(message: str = "hi", times: int = 2, threshold: float = 0.5):
      first = echo(message=message, times=times)
      echo(message="again", times=times).after(first)

    compiler.Compiler().compile(tiny, sys.argv[1])
""")


def test_the_loader_reads_a_pipeline_the_kfp2_sdk_compiled(tmp_path):
  spec = str(tmp_path / "tiny.yaml")
  compiled = _kfp2("-c", TINY_PIPELINE, spec, cwd=str(tmp_path))
  assert compiled.returncode == 0, compiled.stderr
  found = _load(spec, cwd=str(tmp_path))
  assert found["kfp"].startswith("2."), found
  assert found["name"] == "tiny-kfp2"
  assert found["inputs"] == {"message": "String", "threshold": "Float", "times": "Integer"}
  assert found["defaults"] == {"message": "hi", "threshold": 0.5, "times": 2}
  assert found["num_tasks"] == 2 and found["tasks"] == ["echo", "echo-2"]
  assert found["images"] == ["python:3.10-slim"]
  assert found["round_trip"] is True


# Root inputs as TFX 1.15 wrote them at schemaVersion 2.0.0 (`type: STRING`, before
# `parameterType`), as pipeline.yaml was until it moved to 2.1.0: kfp 2 takes an input without
# parameterType for an artifact and looks up its artifactType.
SCHEMA_2_0_0_SPEC = textwrap.dedent("""\
    # KFP v2 pipeline spec at schema 2.0.0.
    components:
      Echo:
        executorLabel: Echo_executor
    deploymentSpec:
      executors:
        Echo_executor:
          container:
            command: [python, -c, print(1)]
            image: python:3.10-slim
    pipelineInfo:
      name: old-spec
    root:
      dag:
        tasks:
          Echo:
            componentRef:
              name: Echo
            taskInfo:
              name: Echo
      inputDefinitions:
        parameters:
          data_dir:
            defaultValue: gs://bucket/idx
            type: STRING
    schemaVersion: 2.0.0
    sdkVersion: tfx-1.15.1
""")


def test_a_schema_2_0_0_spec_fails_to_load_with_key_error_artifact_type(tmp_path):
  """Documents the failure of the old spec form, and that the loader reports it in one line."""
  spec = tmp_path / "old.yaml"
  spec.write_text(SCHEMA_2_0_0_SPEC)
  loaded = _kfp2(LOADER, str(spec), cwd=str(tmp_path))
  assert loaded.returncode == 1
  assert loaded.stdout == ""
  assert loaded.stderr.count("\n") == 1, loaded.stderr
  assert "cannot load it: KeyError: 'artifactType'" in loaded.stderr


def test_the_committed_pipeline_yaml_loads_with_the_kfp2_sdk(tmp_path):
  path = os.path.join(REPO, "pipeline.yaml")
  with open(path) as f:
    spec = yaml.safe_load(f)
  found = _load(path, cwd=str(tmp_path))
  assert found["name"] == spec["pipelineInfo"]["name"]
  assert found["schema_version"] == spec["schemaVersion"]
  # The runtime parameters users set at submit time, with kfp's types for them.
  assert {"data_dir": "String", "serving_dir": "String", "train_steps": "Integer",
          "accuracy_threshold": "Float"}.items() <= found["inputs"].items(), found["inputs"]
  assert found["tasks"] == sorted(spec["root"]["dag"]["tasks"])
  assert found["num_tasks"] == len(spec["root"]["dag"]["tasks"])
  # kfp.compiler writes back the same PipelineSpec it read.
  assert found["round_trip"] is True
