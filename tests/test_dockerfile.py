"""The image holds what the compiled pipelines run: the packages their commands import
are the packages the Dockerfile copies, and it installs from the lock file."""

import json
import os
import re
import subprocess
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _dockerfile() -> str:
  with open(os.path.join(REPO, "Dockerfile")) as f:
    return f.read()


def _load(name: str):
  with open(os.path.join(REPO, name)) as f:
    return f.read()


def _entry_points() -> set:
  """Every module a compiled task starts (`python -m X`) or loads by path (executors, run_fn)."""
  spec = yaml.safe_load(_load("pipeline.yaml"))
  points = set()
  for executor in spec["deploymentSpec"]["executors"].values():
    container = executor.get("container", {})
    for step in [container] + list(container.get("lifecycle", {}).values()):
      argv = step.get("command", []) + step.get("args", [])
      points.update(argv[i + 1] for i, a in enumerate(argv) if a == "-m")
      points.update(argv[i + 1].rsplit(".", 1)[0] for i, a in enumerate(argv)
                    if a == "--executor_class_path")
  run_fn = spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]["run_fn"]
  points.add(run_fn["runtimeValue"]["constant"].rsplit(".", 1)[0])
  # The Argo workflow: its entrypoint, and each node's executor class in the node IR.
  for template in yaml.safe_load(_load("pipeline-kubeflow-v1.yaml"))["spec"]["templates"]:
    container = template.get("container", {})
    argv = container.get("command", []) + container.get("args", [])
    points.update(argv[i + 1] for i, a in enumerate(argv) if a == "-m")
    points.update(path.rsplit(".", 1)[0]
                  for path in re.findall(r'"classPath": "([\w.]+)"', " ".join(argv)))
  return points


def _project_packages_imported(modules: set) -> set:
  """Top-level packages of this checkout that importing `modules` loads (in a fresh process)."""
  code = ("import importlib, json, os, sys\n"
          f"for m in {sorted(modules)!r}: importlib.import_module(m)\n"
          f"root = {REPO!r}\n"
          "print(json.dumps(sorted({n.split('.')[0] for n, m in list(sys.modules.items())\n"
          "  if getattr(m, '__file__', None) and os.path.abspath(m.__file__).startswith(root + os.sep)\n"
          "  and '.venv' not in m.__file__})))")
  out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                       timeout=300, check=True).stdout
  return set(json.loads(out.strip().splitlines()[-1]))


def test_the_image_copies_exactly_the_packages_the_compiled_commands_import():
  points = _entry_points()
  assert {"tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor",
          "components.anomaly_gate", "components.atomic_pusher",
          "tfx.orchestration.kubeflow.container_entrypoint", "components.trainer",
          "components.evaluator", "components.idx_example_gen", "trainer_module.runner"} <= points
  copied = set(re.findall(r"^COPY (\w+)/ \1/$", _dockerfile(), re.MULTILINE))
  assert _project_packages_imported(points) == copied


def test_the_image_installs_the_lock_and_takes_its_base_as_a_build_argument():
  dockerfile = _dockerfile()
  # Byte-compiled at build time: each pod would otherwise compile TF and TFX at start-up.
  assert re.search(r'lock=requirements\.lock; if \[ -n "\$GPU" \]; then lock=requirements-gpu\.lock; '
                   r'fi; \\\n\s+python -m uv pip sync --system --no-cache --compile-bytecode '
                   r'--require-hashes "\$lock"', dockerfile)
  assert "uv pip install --system --no-cache --compile-bytecode \\" not in dockerfile
  # uv itself only from its hashed lock.
  assert "python -m pip install --no-cache-dir --require-hashes -r requirements-uv.lock" in dockerfile
  assert not re.search(r"uv==\d", dockerfile)
  assert re.search(r"^ARG BASE_IMAGE=python:3\.10-slim\nFROM \$\{BASE_IMAGE\}$", dockerfile,
                   re.MULTILINE)
  assert "WORKDIR /app" in dockerfile


def test_the_gpu_build_adds_cuda_libraries_for_the_locked_tensorflow():
  def pins(lock):
    return dict(re.findall(r"^([a-z0-9][\w.-]*(?:\[[\w,-]+\])?)==([^\s\\]+)", _load(lock),
                           re.MULTILINE))
  cpu, gpu = pins("requirements.lock"), pins("requirements-gpu.lock")
  # The same environment, plus TensorFlow's CUDA 12.2 / cuDNN 8.9 wheels, hashed like it.
  assert {k: v for k, v in gpu.items() if k in cpu} == cpu
  assert gpu["nvidia-cudnn-cu12"].startswith("8.9") and gpu["nvidia-cuda-runtime-cu12"].startswith("12.2")
  assert set(gpu) - set(cpu) == {k for k in gpu if k.startswith("nvidia-")}
  assert "tensorflow[and-cuda]==" + cpu["tensorflow"] in _load("requirements-gpu.in")
  makefile = _load("Makefile")
  base = re.search(r"^ifeq \(\$\(GPU\),1\)\n(?:.*\n)*?BASE_IMAGE \?= (\S+)$", makefile,
                   re.MULTILINE).group(1)
  # TF 2.15 is built against CUDA 12.2; the base's CUDA must be 12.2 or later in 12.x.
  assert re.fullmatch(r"nvidia/cuda:12\.[2-9][.\d]*-\w+-ubuntu22\.04", base), base
  assert "--build-arg GPU=$(GPU)" in makefile


def test_the_image_runs_as_a_numeric_non_root_user_and_keeps_no_build_secret():
  dockerfile = _dockerfile()
  users = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
  # The last USER is the one containers start as; numeric, so runAsNonRoot can check it.
  assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]), users
  uid = users[-1].split(":")[0]
  assert re.search(rf"useradd --uid {uid} .*--home-dir /home/app", dockerfile)
  assert dockerfile.rstrip().splitlines()[-1] == f"USER {users[-1]}"
  # The site's CA bundle only as a build secret of the step that needs it: no COPY, no ADD.
  assert "--mount=type=secret,id=ca_bundle" in dockerfile
  assert not re.search(r"^(COPY|ADD)\b.*(\.crt|\.pem|ca-certificates)", dockerfile, re.MULTILINE)
  with open(os.path.join(REPO, "deploy", "make-base-image.sh")) as f:
    assert "ca-certificates/*.crt" not in f.read()


def test_the_build_context_leaves_out_venvs_git_and_outputs():
  ignored = {line.strip() for line in _load(".dockerignore").splitlines()
             if line.strip() and not line.startswith("#")}
  assert {".git", ".venv", ".venv-*", "output"} <= ignored
  # Nothing the Dockerfile copies is ignored.
  copied = {c.rstrip("/") for sources in re.findall(r"^COPY (.+) \S+$", _dockerfile(), re.MULTILINE)
            for c in sources.split()}
  assert {"requirements.lock", "requirements-uv.lock", "pipeline"} <= copied
  assert not copied & ignored
