"""The committed pipeline-kubeflow-v1.yaml, proven to run on open-source Kubeflow Pipelines:
its Argo workflow replayed step by step (argo_replay) against a gRPC ML Metadata service on
127.0.0.1 (mlmd_grpc), twice, so the second run's Resolver and Evaluator see the first's model;
and against a service with only the RPCs of MLMD 1.5.0, the server of KFP 1.8.x and 2.0.0."""

import glob
import os
import sys
from typing import Dict, List

import numpy as np
import pytest
import yaml

from pipeline.config import KFP_OUTPUT_ROOT
from tests.conftest import stripe_images, write_dataset
from tests.support.argo_replay import Cluster, StepResult, run_workflow
from tests.support.mlmd_grpc import MLMD_1_5_0_MISSING, MetadataService

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
IMAGE_WORKDIR = "/app/"  # Where the Dockerfile puts this checkout in the image.
STEPS = 9


def _workflow(root: str) -> dict:
  """The committed workflow, with a local directory as the bucket and this checkout as image."""
  with open(os.path.join(REPO, "pipeline-kubeflow-v1.yaml")) as f:
    return yaml.safe_load(f.read().replace(KFP_OUTPUT_ROOT, root)
                          .replace(IMAGE_WORKDIR, REPO + "/"))


def _replay(workflow: dict, service: MetadataService, work_dir: str, run_id: str,
            parameters: Dict[str, str]) -> List[StepResult]:
  env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
  config_maps = service.config_maps()
  results = run_workflow(workflow, parameters, run_id, Cluster(config_maps, env), work_dir, REPO,
                         timeout_s=900)
  print(f"{run_id}: " + "; ".join(f"{r.name} exit {r.returncode} {r.seconds:.1f} s"
                                  for r in results))
  failed = [r for r in results if r.returncode]
  assert not failed, f"{run_id}: {failed[0].name} failed:\n{failed[0].log[-3000:]}"
  assert len(results) == STEPS
  return results


def _has_baseline_diffs(evaluation_uri: str) -> bool:
  """True when TFMA's metrics hold candidate-vs-baseline differences (it compared)."""
  import tensorflow_model_analysis as tfma
  return any(kv.key.is_diff for metrics in tfma.load_metrics(evaluation_uri)
             for kv in metrics.metric_keys_and_values)


def _data(tmp_path) -> Dict[str, str]:
  # The committed workflow trains with Fashion-MNIST's settings, mirroring images at random:
  # stripes are the same mirrored. train_steps is lowered at run time, as users do.
  write_dataset(str(tmp_path / "idx"), n_train=400, n_eval=100, seed=3, stripes=True)
  return {"data_dir": str(tmp_path / "idx"), "train_steps": "60", "accuracy_threshold": "0.8"}


def _load_and_classify(version: str) -> float:
  import tensorflow as tf

  from pipeline.data.examples import encode_examples
  labels = np.arange(10)
  images = stripe_images(labels, seed=11).reshape(10, -1)
  classes = tf.saved_model.load(version).signatures["serving_default"](
      examples=tf.constant(encode_examples(images, labels)))["classes"].numpy()
  return float((classes == labels).mean())


@pytest.mark.slow
def test_v1_workflow_runs_twice_on_grpc_mlmd_and_on_the_1_5_0_server_of_kfp_1_8(tmp_path):
  """Run 1 against the current MLMD service; run 2 against one with only MLMD 1.5.0's RPCs
  (KFP 1.8.x and 2.0.0 deploy that server: no PutLineageSubgraph, among others), with more
  training steps, as a user reruns it. Run 2 reuses the data steps
  from the cache, trains anew, and its Resolver and Evaluator see run 1's blessed model."""
  from pipeline.reporting.summary import summarize
  root, db = str(tmp_path / "bucket"), str(tmp_path / "mlmd.db")
  workflow, parameters = _workflow(root), _data(tmp_path)
  with MetadataService(db) as service:
    _replay(workflow, service, str(tmp_path / "run1"), "run-1", parameters)
  # Measured: no step of run 1 called PutLineageSubgraph (TFX's KFP v1 entrypoint publishes
  # with PutExecution); which RPCs it uses is printed for the README.
  print(f"run 1 RPCs: {dict(service.calls)}")
  first = summarize(db)
  assert set(first.node_states.values()) == {"COMPLETE"}, first.node_states
  assert first.blessed and first.baseline is None, first
  [version] = glob.glob(os.path.join(root, "serving_model", "*", "cnn", "*"))
  assert first.pushed_to == version and _load_and_classify(version) >= 0.8

  with MetadataService(db, unimplemented=MLMD_1_5_0_MISSING) as old:
    _replay(workflow, old, str(tmp_path / "run2"), "run-2", {**parameters, "train_steps": "80"})
  print(f"MLMD 1.5.0 mode, refused: {dict(old.refused)}")
  second = summarize(db)
  assert second.run_id != first.run_id
  assert {n for n, state in second.node_states.items() if state == "CACHED"} == {
      "FileBasedExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "AnomalyGate"}
  assert {second.node_states[n] for n in ("Trainer", "Evaluator", "Pusher")} == {"COMPLETE"}
  # The Resolver found run 1's blessed model, and the Evaluator compared against it.
  assert second.uris["Model"] != first.uris["Model"]
  assert second.baseline and first.uris["Model"] in second.baseline, second.baseline
  assert _has_baseline_diffs(second.uris["ModelEvaluation"])
