"""The experiment grid: datasets x models x settings, each cell one training run.

Each cell's hyperparameters resolve exactly as `python -m pipeline run` resolves
them (trainer_module.defaults): the flags given, then the dataset's defaults.
"""

import dataclasses
import itertools
from typing import Any, Dict, List, Mapping, Optional, Sequence

from trainer_module import defaults
from trainer_module.hparams import HParams


@dataclasses.dataclass(frozen=True)
class Cell:
  """One training run of the grid; `hparams.dataset` is its dataset.

  `settings` names what the user set besides dataset, model and seed (the same
  for every dataset, so the claims can compare datasets at one setting). Never
  the seed: runs that share dataset, model and settings are replicates, whose
  spread the claims (pipeline.experiments.claims) measure.
  """
  hparams: HParams
  settings: str = "defaults"

  @property
  def dataset(self) -> str:
    return self.hparams.dataset or ""

  @property
  def seed(self) -> Optional[int]:
    """The replicate's seed, when HParams has one and it is set."""
    return getattr(self.hparams, "seed", None)

  @property
  def name(self) -> str:
    """Unique within a grid, and a directory name: `mnist-cnn-2000steps-lr0.001-constant`,
    then `-seed1` for a seeded replicate."""
    suffix = "" if self.seed is None else f"-seed{self.seed}"
    return f"{self.dataset}-{self.hparams.model}-{self.settings}{suffix}"

  def hparams_dict(self) -> Dict[str, Any]:
    """The values the HParams dashboard and the results table show."""
    h = self.hparams
    values = {"dataset": self.dataset, "model": h.model, "train_steps": h.train_steps,
              "learning_rate": h.learning_rate, "lr_schedule": h.lr_schedule,
              "batch_size": h.batch_size}
    if self.seed is not None:
      values["seed"] = self.seed
    return values


def settings_name(values: Mapping[str, Any]) -> str:
  """A short, directory-safe name for explicitly set values, e.g. `2000steps-lr0.001-constant`."""
  parts = []
  for field, value in values.items():
    if field == "train_steps":
      parts.append(f"{value}steps")
    elif field == "learning_rate":
      parts.append(f"lr{value:g}")
    elif field == "lr_schedule":
      parts.append(str(value))
    elif isinstance(value, bool):
      parts.append(field if value else f"no-{field}")
    else:
      parts.append(f"{field}{value:g}" if isinstance(value, float) else f"{field}{value}")
  return "-".join(parts) or "defaults"


def make_grid(datasets: Sequence[str], models: Sequence[str],
              varied: Mapping[str, Sequence[Any]]) -> List[Cell]:
  """Every combination, datasets outermost (so each dataset's data is prepared once, first).

  `varied` maps HParams fields to the values to try (one value: fixed for all
  cells); fields not named take the dataset's defaults. Raises InvalidSetting
  for a value no cell could use.
  """
  fields = [f for f in ("train_steps", "learning_rate", "lr_schedule") if f in varied] + [
      f for f in varied if f not in ("train_steps", "learning_rate", "lr_schedule")]
  cells = []
  for dataset, model in itertools.product(datasets, models):
    for combo in itertools.product(*(varied[f] for f in fields)):
      values = dict(zip(fields, combo))
      cells.append(Cell(defaults.resolve(dataset, {**values, "model": model}),
                        settings_name({k: v for k, v in values.items() if k != "seed"})))
  return cells
