"""The image that `make image` built, started as the compiled pipeline starts it: its user is
not root, it keeps no build secret or site CA, and the KFP v1 workflow's first step runs in it.

Extended: it needs a container engine and a built image (minutes; docs/security.md):
  deploy/make-base-image.sh && make image BASE_IMAGE=localhost/python:3.10-slim-local \\
    IMAGE=localhost/mnist-tfx:local
MNIST_TFX_IMAGE names another image to check.
"""

import glob
import os
import shutil
import subprocess

import pytest

from pipeline.runners.kubeflow import RUN_AS_USER
from tests.conftest import write_dataset
from tests.support.argo_replay import Cluster, run_workflow
from tests.support.mlmd_grpc import MetadataService
from tests.pipeline.runners.test_kubeflow_nonroot import _workflow

IMAGE = os.environ.get("MNIST_TFX_IMAGE", "localhost/mnist-tfx:local")
PODMAN = shutil.which("podman")
# As `make image` runs podman here (Makefile): runc, explicit rlimits; 127.0.0.1 is the host's.
ENGINE = [PODMAN or "podman", "--runtime", "runc", "run", "--rm", "--network=host",
          "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]


def _image_exists() -> bool:
  return bool(PODMAN) and subprocess.run([PODMAN, "image", "exists", IMAGE],
                                         timeout=60, check=False).returncode == 0


pytestmark = [pytest.mark.extended,
              pytest.mark.skipif(not _image_exists(), reason=f"needs podman and {IMAGE}: "
                                 "build it as this module's docstring says")]


def _in_image(*argv: str) -> subprocess.CompletedProcess:
  return subprocess.run([*ENGINE, IMAGE, *argv], capture_output=True, text=True, timeout=300,
                        check=False)


def test_the_container_starts_as_the_non_root_user_and_keeps_no_secret_or_site_ca():
  probe = _in_image("sh", "-c", "id -u; id -g; echo $HOME; ls -A /run/secrets 2>/dev/null | wc -l;"
                    " ls -A /usr/local/share/ca-certificates | wc -l;"
                    " touch /app/x 2>/dev/null && echo app-writable;"
                    " touch /x 2>/dev/null && echo root-writable; true")
  assert probe.returncode == 0, probe.stderr
  assert probe.stdout.split() == [str(RUN_AS_USER), str(RUN_AS_USER), "/home/app", "0", "0"]
  # No CA that this host added (a proxy's) is in the image's bundle.
  bundle = _in_image("cat", "/etc/ssl/certs/ca-certificates.crt").stdout
  for crt in glob.glob("/usr/local/share/ca-certificates/*.crt"):
    with open(crt) as f:
      body = "".join(f.read().split("-----")[2].split())  # the base64 between the markers
    assert body[:200] not in "".join(bundle.split()), crt


def test_the_workflows_first_step_runs_in_the_image_as_its_security_context_says(tmp_path):
  bucket, data = tmp_path / "bucket", tmp_path / "idx"
  bucket.mkdir()
  if os.geteuid() == 0:  # a bucket the step may write
    os.chown(bucket, RUN_AS_USER, RUN_AS_USER)
  write_dataset(str(data), n_train=40, n_eval=20, seed=3)
  os.chmod(tmp_path, 0o755)
  with MetadataService(str(tmp_path / "mlmd.db")) as service:
    cluster = Cluster(service.config_maps(),
                      dict(os.environ), as_pod_user=True, image=IMAGE,
                      engine=[*ENGINE, "-v", f"{bucket}:{bucket}", "-v", f"{data}:{data}:ro"])
    workflow = _workflow(str(bucket))
    [result] = run_workflow(workflow, {"data_dir": str(data)}, "run-1", cluster,
                            str(tmp_path / "steps"), str(tmp_path), timeout_s=600,
                            only=["filebasedexamplegen"])
  assert result.returncode == 0, result.log[-3000:]
  written = [p for p in glob.glob(str(bucket / "**"), recursive=True) if os.path.isfile(p)]
  assert any("/examples/" in p and "Split-train" in p for p in written), written
  assert {os.stat(p).st_uid for p in written} == {RUN_AS_USER}
  # TFX's UI metadata, written where the compiled file says, in the container's /tmp.
  [ui] = glob.glob(str(tmp_path / "steps" / "filebasedexamplegen" / "fs" / "tmp" / "*.json"))
  assert os.stat(ui).st_uid == RUN_AS_USER
