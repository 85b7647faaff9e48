"""The committed KFP v1 workflow runs its steps as a non-root user, and they work so.

Every step's container asks for runAsNonRoot as the Dockerfile's numeric USER; its first
step (ExampleGen: TFX's container entrypoint, driver, Beam executor and publisher, against
ML Metadata over gRPC) is replayed as that user (setpriv) on tiny data.
"""

import glob
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from pipeline.runners.kubeflow import KFP_OUTPUT_ROOT, KFP_UI_METADATA_PATH, RUN_AS_USER
from tests.conftest import write_dataset
from tests.support.argo_replay import Cluster, as_user, pod_user, run_workflow
from tests.support.mlmd_grpc import MetadataService

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _workflow(root: str = KFP_OUTPUT_ROOT) -> dict:
  with open(os.path.join(REPO, "pipeline-kubeflow-v1.yaml")) as f:
    return yaml.safe_load(f.read().replace(KFP_OUTPUT_ROOT, root).replace("/app/", REPO + "/"))


def test_every_step_runs_as_the_images_non_root_user_and_writes_only_under_tmp():
  with open(os.path.join(REPO, "Dockerfile")) as f:
    user = re.search(r"^USER (\d+):(\d+)$", f.read(), re.MULTILINE)
  assert user and int(user.group(1)) == RUN_AS_USER != 0
  templates = [t for t in _workflow()["spec"]["templates"] if "container" in t]
  assert len(templates) == 9
  for template in templates:
    context = template["container"]["securityContext"]
    assert context["runAsNonRoot"] is True and context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert pod_user(template["container"]) == (RUN_AS_USER, int(user.group(2)))
    # The one file a step writes outside the pipeline root: where that user can.
    assert [a["path"] for a in template["outputs"]["artifacts"]] == [KFP_UI_METADATA_PATH]
    assert KFP_UI_METADATA_PATH.startswith("/tmp/")
  with pytest.raises(ValueError, match="runAsNonRoot without a non-zero runAsUser"):
    pod_user({"securityContext": {"runAsNonRoot": True, "runAsUser": 0}})


@pytest.mark.slow  # 25 s on 2 cores: TF, TFX and Beam start in the step's process
@pytest.mark.skipif(sys.platform != "linux" or (os.geteuid() == 0 and not shutil.which("setpriv")),
                    reason="needs Linux, and setpriv (util-linux) when run as root")
def test_the_example_gen_step_runs_as_the_non_root_user(tmp_path):
  uid = RUN_AS_USER if os.geteuid() == 0 else os.geteuid()
  bucket, home = tmp_path / "bucket", tmp_path / "home"
  for directory in (bucket, home):  # A bucket and a HOME the step's user may write, as in a pod.
    directory.mkdir()
    if os.geteuid() == 0:
      os.chown(directory, uid, uid)
  write_dataset(str(tmp_path / "idx"), n_train=40, n_eval=20, seed=3)
  env = {**os.environ, "HOME": str(home),
         "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
  with MetadataService(str(tmp_path / "mlmd.db")) as service:
    cluster = Cluster(service.config_maps(),
                      env, as_pod_user=True)
    [result] = run_workflow(_workflow(str(bucket)), {"data_dir": str(tmp_path / "idx")}, "run-1",
                            cluster, str(tmp_path / "steps"), REPO, timeout_s=600,
                            only=["filebasedexamplegen"])
  assert result.returncode == 0, result.log[-3000:]
  written = [p for p in glob.glob(str(bucket / "**"), recursive=True) if os.path.isfile(p)]
  assert any("/examples/" in p and "Split-train" in p for p in written), written
  # Written by the step's user: it ran as that user, not as root.
  assert {os.stat(p).st_uid for p in written} == {uid}
  [ui_metadata] = glob.glob(str(tmp_path / "steps" / "filebasedexamplegen" / "fs" / "tmp" / "*"))
  assert os.stat(ui_metadata).st_uid == uid
  if os.geteuid() == 0:  # setpriv's one capability lets it read, never write, root's files.
    denied = subprocess.run(as_user([sys.executable, "-c", f"open({str(tmp_path / 'x')!r}, 'w')"],
                                    uid, uid), capture_output=True, text=True, timeout=60,
                            check=False)
    assert denied.returncode != 0 and "PermissionError" in denied.stderr, denied.stderr
