"""The one typed pipeline configuration, and the deployment facts it and the CLI share.

Nothing here reads the environment or the filesystem, and nothing imports
TensorFlow: a config is built and checked in milliseconds, before any work.
Runners decide the storage fields (see pipeline/runners/).
"""

import dataclasses
import os
import re
from typing import Any, Dict, List, Optional, Tuple

from pipeline.data.datasets import get_dataset
from pipeline.layout import pipeline_name, pipeline_root_under, serving_root_under
from trainer_module.hparams import HParams, InvalidSetting

# The committed TFDV schema (labels 0..9, one image and one label per example).
SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "schema.pbtxt")

# The Evaluator's bound on test accuracy, per dataset (README, "Accuracy targets"); the
# training defaults are trainer_module.defaults.TRAINING_DEFAULTS. Flags override each.
ACCURACY_THRESHOLDS: Dict[str, float] = {"fashion_mnist": 0.90, "mnist": 0.985}


# Kubeflow compile target -> the file `compile` writes for it (and `submit` reads):
# the KFP v2 spec for Vertex AI Pipelines, the Argo workflow for open-source KFP.
KFP_TARGET_FILES: Dict[str, str] = {"vertex": "pipeline.yaml",
                                    "kubeflow": "pipeline-kubeflow-v1.yaml"}
# `submit` only: open-source KFP 2.x runs pipeline.yaml, the same spec as Vertex AI.
KFP2_TARGET = "kubeflow-v2"
# Where a KFP deployment reads and writes; override with `compile --output-root/--data-dir`.
KFP_OUTPUT_ROOT = "gs://YOUR_BUCKET/mnist-tfx"
# KFP's own MinIO secret (keys accesskey, secretkey): `compile --s3-secret`'s default.
DEFAULT_S3_SECRET = "mlpipeline-minio-artifact"


@dataclasses.dataclass(frozen=True)
class VertexTraining:
  """Runs the Trainer as a Vertex AI custom job over worker pools (a TF_CONFIG cluster).

  Vertex AI sets TF_CONFIG from the pools: pool 0 is the chief, 1 the workers,
  2 the parameter servers. The defaults are the workshop's Cloud ML Engine shape:
  a chief, 3 workers and 3 parameter servers.
  """
  project: str
  image: str  # The project's image, as for the other components.
  region: str = "us-central1"
  machine_type: str = "n1-standard-4"
  workers: int = 3
  ps: int = 3
  # Vertex AI's accelerator type, e.g. NVIDIA_TESLA_T4, on the chief and the workers.
  accelerator_type: Optional[str] = None
  accelerator_count: int = 0

  def __post_init__(self):
    if not self.project:
      raise InvalidSetting("vertex_project", "must name a Google Cloud project")
    for name in ("workers", "ps"):
      if getattr(self, name) < 0:
        raise InvalidSetting(f"vertex_{name}", f"must be 0 or more, got {getattr(self, name)}")
    if self.accelerator_type is not None and (
        not re.fullmatch(r"[A-Z][A-Z0-9_]+", self.accelerator_type)
        or self.accelerator_count < 1):
      raise InvalidSetting("vertex_accelerator", "write it as TYPE:COUNT, e.g. "
                           f"NVIDIA_TESLA_T4:1, got {self.accelerator_type}:"
                           f"{self.accelerator_count}")

  def check_strategy(self, distribute: str) -> None:
    """Raises InvalidSetting when `distribute` cannot run on these pools.

    Mirrored training has no use for parameter servers (TF would fail on a
    cluster that names them); parameter-server training needs at least one.
    """
    if distribute == "multi_worker_mirrored" and self.ps:
      raise InvalidSetting("distribute", "multi_worker_mirrored takes no parameter servers, "
                           f"but --vertex-ps is {self.ps}: add --vertex-ps 0, or use "
                           "--distribute parameter_server")
    if distribute == "parameter_server" and not self.ps:
      raise InvalidSetting("distribute", "parameter_server needs at least one parameter "
                           "server: give --vertex-ps 1 or more, or use --distribute "
                           "multi_worker_mirrored")

  def worker_pool_specs(self) -> List[Dict[str, Any]]:
    """Vertex AI CustomJob worker pools; TFX sets each container's command.

    The accelerator goes on the chief and the workers, which compute; parameter
    servers only hold variables.
    """
    def pool(replicas: int, computes: bool = True) -> Dict[str, Any]:
      machine = {"machine_type": self.machine_type}
      if self.accelerator_type and computes:
        machine.update(accelerator_type=self.accelerator_type,
                       accelerator_count=self.accelerator_count)
      return {"machine_spec": machine, "replica_count": replicas,
              "container_spec": {"image_uri": self.image}}
    return [pool(1), pool(self.workers), pool(self.ps, computes=False)] if self.ps else (
        [pool(1), pool(self.workers)] if self.workers else [pool(1)])

  def custom_config(self) -> Dict[str, Any]:
    """The keys `tfx.extensions.google_cloud_ai_platform.Trainer` reads from custom_config."""
    return {"ai_platform_enable_vertex": True, "ai_platform_vertex_region": self.region,
            "ai_platform_training_args": {
                "project": self.project, "job_spec": {"worker_pool_specs":
                                                      self.worker_pool_specs()}}}


def check_threshold(threshold: float) -> float:
  """The Evaluator's accuracy bar, which must be a fraction; returned when it is one."""
  if not 0 <= threshold <= 1:
    raise InvalidSetting("accuracy_threshold", f"must be in [0, 1], got {threshold!r}")
  return threshold


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
  """Everything `create_pipeline` needs.

  Attributes:
    hparams: The Trainer's hyperparameters; `hparams.dataset` is the dataset.
    accuracy_threshold: The Evaluator's absolute lower bound on test accuracy.
    data_dir: Directory holding the four IDX files (ExampleGen's input).
    pipeline_root: Root of the pipeline's artifacts.
    serving_dir: Where Pusher writes `<version>/saved_model.pb` (TF Serving's layout).
    beam_args: Beam options for the Beam-powered components.
    vertex_training: When set, the Trainer runs as a Vertex AI custom job.
    schema_file: The TFDV schema the data is validated against, as the
      components will see the path (the image's copy, on Kubeflow).
    runtime_parameters: Expose the data directory, the training steps and the
      accuracy threshold as pipeline parameters (defaulting to the values
      here), so a compiled pipeline's runs can change them.
  """
  hparams: HParams
  accuracy_threshold: float
  data_dir: str
  pipeline_root: str
  serving_dir: str
  beam_args: Tuple[str, ...] = ()
  vertex_training: Optional[VertexTraining] = None
  schema_file: str = SCHEMA_FILE
  runtime_parameters: bool = False

  def __post_init__(self):
    get_dataset(self.dataset)
    check_threshold(self.accuracy_threshold)
    if self.vertex_training:
      self.vertex_training.check_strategy(self.hparams.distribute)

  @property
  def dataset(self) -> str:
    return self.hparams.dataset or ""

  @property
  def pipeline_name(self) -> str:
    return pipeline_name(self.dataset)


def config_under_root(hparams: HParams, accuracy_threshold: float, output_root: str,
                      data_dir: str, beam_args: Tuple[str, ...],
                      vertex_training: Optional[VertexTraining] = None) -> PipelineConfig:
  """A config whose artifacts and pushed models live under `output_root`.

  The layout every runner uses: `pipelines/<name>/` for artifacts and
  `serving_model/<name>/<model>/<version>/` for pushed models.
  """
  name = pipeline_name(hparams.dataset or "")
  return PipelineConfig(
      hparams=hparams, accuracy_threshold=accuracy_threshold, data_dir=data_dir,
      pipeline_root=pipeline_root_under(output_root, name),
      serving_dir=f"{serving_root_under(output_root, name)}/{hparams.model}",
      beam_args=tuple(beam_args),
      vertex_training=vertex_training)
