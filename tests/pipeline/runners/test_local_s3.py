"""`python -m pipeline run --output-root s3://...` end to end against a real S3 server on
127.0.0.1 (moto): artifacts and the pushed model in the bucket, ML Metadata and the report in
--state-dir, and the pushed SavedModel loads and classifies."""

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import separable_images, write_dataset
from tests.support.moto_s3 import BUCKET, client, keys, s3_server


@pytest.mark.extended
@pytest.mark.slow
def test_run_with_an_s3_output_root_pushes_a_model_that_loads(tmp_path):
  write_dataset(str(tmp_path / "idx"), n_train=300, n_eval=100, seed=2)
  state = tmp_path / "state"
  with s3_server() as env:
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--dataset", "mnist", "--train-steps", "60",
         "--eval-steps", "2", "--batch-size", "20", "--accuracy-threshold", "0.5",
         "--data-dir", str(tmp_path / "idx"), "--output-root", f"s3://{BUCKET}/out",
         "--state-dir", str(state)],
        capture_output=True, text=True, timeout=1200, check=False, env={**os.environ, **env})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    objects = keys(env, "out/")
    pushed = sorted({k.split("/")[4] for k in objects
                     if k.startswith("out/serving_model/mnist-tfx-mnist/cnn/")})
    assert len(pushed) == 1 and pushed[0].isdigit(), pushed  # One version, no partial copy.
    local = tmp_path / "pushed"
    prefix = f"out/serving_model/mnist-tfx-mnist/cnn/{pushed[0]}/"
    for key in objects:
      if key.startswith(prefix) and not key.endswith("/"):
        os.makedirs(local / os.path.dirname(key[len(prefix):]), exist_ok=True)
        client(env).download_file(BUCKET, key, str(local / key[len(prefix):]))
  assert f"s3://{BUCKET}/out/serving_model/mnist-tfx-mnist/cnn/{pushed[0]}" in proc.stdout
  assert any(k.startswith("out/pipelines/mnist-tfx-mnist/Trainer/model/") for k in objects)
  assert os.path.exists(state / "metadata" / "mnist-tfx-mnist" / "metadata.db")
  assert [f for _, _, files in os.walk(state / "reports") for f in files if f == "report.md"]
  import tensorflow as tf

  from pipeline.data.examples import encode_examples
  labels = np.arange(10)
  classes = tf.saved_model.load(str(local)).signatures["serving_default"](
      examples=tf.constant(encode_examples(separable_images(labels, seed=11).reshape(10, -1),
                                           labels)))["classes"].numpy()
  assert (classes == labels).mean() >= 0.8
