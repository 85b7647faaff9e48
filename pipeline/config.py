"""The one typed pipeline configuration and the per-dataset defaults.

Nothing here reads the environment or the filesystem, and nothing imports
TensorFlow: a config is built and checked in milliseconds, before any work.
Runners decide the storage fields (see pipeline/runners/).
"""

import dataclasses
from typing import Any, Dict, Tuple

from pipeline.data.datasets import get_dataset
from trainer_module.hparams import HParams, InvalidSetting

# Per-dataset defaults, tuned by measurement (README, "Choosing the defaults").
DATASET_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "fashion_mnist": {"train_steps": 2000, "accuracy_threshold": 0.88},
    "mnist": {"train_steps": 1500, "accuracy_threshold": 0.97},
}


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
  """
  hparams: HParams
  accuracy_threshold: float
  data_dir: str
  pipeline_root: str
  serving_dir: str
  beam_args: Tuple[str, ...] = ()

  def __post_init__(self):
    get_dataset(self.dataset)
    if not 0 <= self.accuracy_threshold <= 1:
      raise InvalidSetting("accuracy_threshold",
                           f"must be in [0, 1], got {self.accuracy_threshold!r}")

  @property
  def dataset(self) -> str:
    return self.hparams.dataset or ""

  @property
  def pipeline_name(self) -> str:
    return pipeline_name(self.dataset)


def pipeline_name(dataset: str) -> str:
  """The pipeline's name for a dataset, e.g. `mnist-tfx-fashion-mnist`."""
  return f"mnist-tfx-{dataset.replace('_', '-')}"


def config_under_root(hparams: HParams, accuracy_threshold: float, output_root: str,
                      data_dir: str, beam_args: Tuple[str, ...]) -> PipelineConfig:
  """A config whose artifacts and pushed models live under `output_root`.

  The layout every runner uses: `pipelines/<name>/` for artifacts and
  `serving_model/<name>/<model>/<version>/` for pushed models.
  """
  name = pipeline_name(hparams.dataset or "")
  root = output_root.rstrip("/")
  return PipelineConfig(
      hparams=hparams, accuracy_threshold=accuracy_threshold, data_dir=data_dir,
      pipeline_root=f"{root}/pipelines/{name}",
      serving_dir=f"{root}/serving_model/{name}/{hparams.model}", beam_args=tuple(beam_args))
