"""The committed pipeline.yaml, proven to run: every container task's exact command and
arguments, replayed in subprocesses on tiny data (see kfp_replay)."""

import glob
import os
import sys

import numpy as np
import pytest
import yaml

from pipeline.config import KFP_OUTPUT_ROOT
from tests.conftest import stripe_images, write_dataset
from tests.support.kfp_replay import replay

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# Where the Dockerfile puts this checkout in the image.
IMAGE_WORKDIR = "/app/"


@pytest.mark.extended
@pytest.mark.slow
def test_pipeline_yaml_replays_task_by_task_and_pushes_a_loadable_model(tmp_path):
  root = str(tmp_path / "bucket")
  with open(os.path.join(REPO, "pipeline.yaml")) as f:
    # The same spec, with a local directory as the bucket and this checkout as the image.
    spec = yaml.safe_load(f.read().replace(KFP_OUTPUT_ROOT, root)
                          .replace(IMAGE_WORKDIR, REPO + "/"))
  # The committed spec trains with Fashion-MNIST's settings, mirroring images at random:
  # stripes are the same mirrored. train_steps is lowered at run time, as users do.
  write_dataset(str(tmp_path / "idx"), n_train=400, n_eval=100, seed=3, stripes=True)
  values = {"data_dir": str(tmp_path / "idx"), "train_steps": 60, "accuracy_threshold": 0.8}
  env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
  results = replay(spec, values, spec["defaultPipelineRoot"], cwd=REPO, env=env)
  report = "\n".join(f"{r.name}: {r.kind}, exit {r.returncode}, {r.seconds:.1f} s"
                     for r in results)
  print(report)
  failed = [r for r in results if r.returncode]
  assert not failed, f"{failed[0].name} failed:\n{failed[0].log[-3000:]}"
  assert len(results) == len(spec["root"]["dag"]["tasks"]), report
  [version] = glob.glob(os.path.join(root, "serving_model", "*", "cnn", "*"))
  import tensorflow as tf
  model = tf.saved_model.load(version)
  labels = np.arange(10)
  images = stripe_images(labels, seed=11).reshape(10, -1)
  from pipeline.data.examples import encode_examples
  classes = model.signatures["serving_default"](
      examples=tf.constant(encode_examples(images, labels)))["classes"].numpy()
  assert (classes == labels).mean() >= 0.8
