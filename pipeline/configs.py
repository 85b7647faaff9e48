"""The one typed pipeline configuration, with defaults per dataset.

Nothing here reads the environment or the filesystem: paths derive from the
fields, and runners decide the fields.
"""

import dataclasses
import os
from typing import Any, Dict, Optional, Tuple

from pipeline.datasets import get_dataset
from trainer_module import check_model_name

# In-process DirectRunner for the local pipeline's Beam components. Measured on
# 2 cores (README): multi-processing workers each import TensorFlow/TFDV before
# doing any work, which costs more than it saves on 70k small examples.
LOCAL_BEAM_ARGS: Tuple[str, ...] = ("--direct_running_mode=in_memory", "--direct_num_workers=1")

# Per-dataset defaults, tuned by measurement (README, "Choosing the defaults").
DATASET_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "fashion_mnist": {"train_steps": 2000, "learning_rate": 1e-3, "accuracy_threshold": 0.88},
    "mnist": {"train_steps": 1500, "learning_rate": 1e-3, "accuracy_threshold": 0.97},
}


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
  """Everything `create_pipeline` and the runners need.

  Attributes:
    dataset: `mnist` or `fashion_mnist`.
    model: Architecture name (trainer_module.models).
    train_steps / eval_steps: Batches for training and for each evaluation.
    batch_size / learning_rate / dropout: Trainer hyperparameters.
    accuracy_threshold: Evaluator's absolute lower bound on accuracy.
    output_root: Local root for pipeline artifacts, MLMD and pushed models.
    data_root: Directory holding the four IDX files (ExampleGen's input).
    beam_args: Beam options for the Beam-powered components.
    pipeline_root: Overrides `<output_root>/pipelines/<name>` (e.g. gs:// for KFP).
    image: Container image that runs the components on Kubeflow Pipelines.
  """
  dataset: str = "fashion_mnist"
  model: str = "cnn"
  train_steps: int = 2000
  eval_steps: int = 100
  batch_size: int = 100
  learning_rate: float = 1e-3
  dropout: Optional[float] = None
  accuracy_threshold: float = 0.88
  output_root: str = "output"
  data_root: str = ""
  beam_args: Tuple[str, ...] = LOCAL_BEAM_ARGS
  pipeline_root: str = ""
  image: str = "mnist-tfx:0.1.0"

  def __post_init__(self):
    get_dataset(self.dataset)
    check_model_name(self.model)  # Fails here, not minutes later in the Trainer.
    for name in ("train_steps", "eval_steps", "batch_size"):
      if getattr(self, name) <= 0:
        raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
    if not 0 <= self.accuracy_threshold <= 1:
      raise ValueError(f"accuracy_threshold must be in [0, 1], got {self.accuracy_threshold}")

  @classmethod
  def for_dataset(cls, dataset: str, **overrides: Any) -> "PipelineConfig":
    """The dataset's defaults, then `overrides` (None values are ignored)."""
    values = dict(DATASET_DEFAULTS[get_dataset(dataset).name])
    values.update({k: v for k, v in overrides.items() if v is not None})
    return cls(dataset=dataset, **values)

  @property
  def pipeline_name(self) -> str:
    return f"mnist-tfx-{self.dataset.replace('_', '-')}"

  @property
  def resolved_pipeline_root(self) -> str:
    return self.pipeline_root or os.path.join(self.output_root, "pipelines", self.pipeline_name)

  @property
  def metadata_path(self) -> str:
    return os.path.join(self.output_root, "metadata", self.pipeline_name, "metadata.db")

  @property
  def serving_model_dir(self) -> str:
    """Where Pusher writes `<version>/saved_model.pb`, the layout TF Serving watches."""
    return os.path.join(self.output_root, "serving_model", self.pipeline_name, self.model)

  def hyperparameters(self) -> Dict[str, Any]:
    """The Trainer's custom_config (trainer_module.trainer.HParams fields)."""
    return {"model": self.model, "learning_rate": self.learning_rate,
            "batch_size": self.batch_size, "dropout": self.dropout}
