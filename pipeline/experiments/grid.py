"""The experiment grid: datasets x models x settings, each cell one training run."""

import dataclasses
import itertools
from typing import Any, Dict, List, Optional, Sequence

from trainer_module.hparams import HParams

# The workshop's grid.
DEFAULT_DATASETS = ("mnist", "fashion_mnist")
DEFAULT_MODELS = ("cnn", "cnn_tf_layers", "vgg_like")


@dataclasses.dataclass(frozen=True)
class Cell:
  """One training run of the grid; `hparams.dataset` is its dataset."""
  hparams: HParams

  @property
  def dataset(self) -> str:
    return self.hparams.dataset or ""

  @property
  def settings(self) -> str:
    """What varies besides dataset, model and seed, e.g. `2000steps-lr0.001-constant`.

    Never the seed: runs that share dataset, model and settings are replicates,
    whose spread the claims (results.check_claims) measure.
    """
    h = self.hparams
    return f"{h.train_steps}steps-lr{h.learning_rate:g}-{h.lr_schedule}"

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


def make_grid(datasets: Sequence[str], models: Sequence[str], train_steps: Sequence[int],
              learning_rates: Sequence[float], schedules: Sequence[str],
              seeds: Sequence[Optional[int]] = (None,), **common: Any) -> List[Cell]:
  """Every combination, datasets outermost (so each dataset's data is prepared once, first).

  Several `seeds` make replicates of each cell (HParams must have a `seed` field);
  None leaves the seed unset. `common` are further HParams fields shared by all
  cells (batch size, eval steps, ...). Raises InvalidSetting for a value no cell could use.
  """
  return [Cell(HParams(dataset=d, model=m, train_steps=s, learning_rate=lr, lr_schedule=sch,
                       **({} if seed is None else {"seed": seed}), **common))
          for d, m, s, lr, sch, seed in itertools.product(datasets, models, train_steps,
                                                          learning_rates, schedules, seeds)]
