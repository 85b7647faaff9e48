"""The one set of per-dataset training defaults, used by every entry point.

`python -m pipeline run`, `compile` and `experiment`, and `python -m
trainer_module.task` all resolve their hyperparameters here: a flag a user
sets wins, then the dataset's value below, then the `HParams` field's own.
No TensorFlow import.
"""

import dataclasses
from typing import Any, Dict, Mapping

from trainer_module.hparams import HParams

# What every command trains when no --dataset is given.
DEFAULT_DATASET = "fashion_mnist"


@dataclasses.dataclass(frozen=True)
class TrainingDefaults:
  """The `HParams` fields whose defaults depend on the dataset.

  Chosen by accuracy on the validation split (README, "Accuracy targets").
  """
  train_steps: int
  learning_rate: float = 2e-3
  lr_schedule: str = "cosine"
  warmup_steps: int = 100
  augment: bool = False
  augment_flip: bool = False

  def fields(self) -> Dict[str, Any]:
    """Field name -> default value, ready to pass to `HParams`."""
    return dataclasses.asdict(self)


TRAINING_DEFAULTS: Dict[str, TrainingDefaults] = {
    # Mirroring suits clothes (a left shoe is still a shoe), never digits.
    "fashion_mnist": TrainingDefaults(train_steps=4400, augment_flip=True),
    "mnist": TrainingDefaults(train_steps=1380, augment=True),
}


def per_dataset_fields() -> Dict[str, Dict[str, Any]]:
  """Dataset -> field defaults, as `hparams.add_flags` shows them in --help."""
  return {dataset: d.fields() for dataset, d in TRAINING_DEFAULTS.items()}


def resolve(dataset: str, overrides: Mapping[str, Any]) -> HParams:
  """HParams for `dataset`: `overrides` (the flags a user set) over the dataset's defaults."""
  return HParams(**{**TRAINING_DEFAULTS[dataset].fields(), "dataset": dataset,
                    **dict(overrides)})
